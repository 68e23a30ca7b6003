"""ftlab's web app: `python app.py` serves the UI and its API on http://127.0.0.1:7860.

The OpenAI-compatible API (ftlab.app.openai_api) is served at /v1 on the same port.
Options: --host (default 127.0.0.1; 0.0.0.0 only if you mean to expose it), --port, --share, --auth user:pass,
--max-file-size.
"""

import argparse
import logging
import os

from ftlab import paths


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="ftlab: fine-tune a model, then compare base vs tuned.")
    default_host = "0.0.0.0" if paths.on_space() else "127.0.0.1"
    parser.add_argument("--host", default=os.environ.get("FTLAB_HOST", default_host), help="address to bind")
    parser.add_argument("--port", type=int, default=int(os.environ.get("FTLAB_PORT", 7860)))
    parser.add_argument("--share", action="store_true", help="open a public gradio.live link (off by default)")
    parser.add_argument("--max-file-size", default=os.environ.get("FTLAB_MAX_FILE_SIZE", "200mb"),
                        help="largest upload accepted (FTLAB_MAX_FILE_SIZE)")
    parser.add_argument("--shared", action="store_true", default=paths.on_space() or bool(os.environ.get("FTLAB_SHARED")),
                        help="several people use this app: each sees only their own runs and uploads, and runs have "
                             "a step and time budget (on by default on a Hugging Face Space; FTLAB_SHARED)")
    parser.add_argument("--demo", action="store_true", default=bool(os.environ.get("FTLAB_DEMO")),
                        help="a public demo: shared mode with shorter runs and a memory cap (on by default on a "
                             "Space without a GPU; FTLAB_DEMO)")
    parser.add_argument("--auth", default=os.environ.get("FTLAB_AUTH", ""),
                        help="require a login: user:password, several separated by commas (FTLAB_AUTH)")
    return parser.parse_args(argv)


def logins(spec: str) -> list[tuple[str, str]] | None:
    """`user:pass,user2:pass2` as Gradio's auth list; None when empty. A malformed entry stops the app."""
    if not spec.strip():
        return None
    pairs = [item.split(":", 1) for item in spec.split(",") if item.strip()]
    bad = [p[0] for p in pairs if len(p) != 2 or not p[0] or not p[1]]
    if bad:
        raise SystemExit(f"--auth / FTLAB_AUTH: expected user:password, got {bad[0]!r}")
    return [(user.strip(), password) for user, password in pairs]


def warm_up() -> None:
    """Import the heavy libraries before serving (~5 s), so the user's first action doesn't wait for them. Not in
    a background thread: transformers' lazy imports are not safe to race with a request's own imports."""
    import torch  # noqa: F401
    import transformers.activations  # noqa: F401 - pulls in the kernels and configs every model needs
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer  # noqa: F401
    from transformers.models.llama import configuration_llama  # noqa: F401


def cpu_space() -> bool:
    """A Hugging Face Space with no GPU: the app runs as a demo there."""
    import torch

    return paths.on_space() and not torch.cuda.is_available()


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from ftlab.app import openai_api
    from ftlab.app.lab import Lab
    from ftlab.app.ui import CSS, build_app, queued

    warm_up()
    lab = Lab(shared=args.shared, demo=args.demo or cpu_space())
    demo = build_app(lab)
    auth = logins(args.auth)
    queued(demo).launch(
        server_name=args.host, server_port=args.port, share=args.share, max_file_size=args.max_file_size,
        auth=auth, prevent_thread_lock=True, css=CSS)
    openai_api.mount(demo.app, lab, logins=bool(auth))  # the OpenAI-compatible /v1 routes, on the same server
    print(f"OpenAI-compatible API: http://{args.host}:{args.port}/v1", flush=True)
    demo.block_thread()


if __name__ == "__main__":
    main()
