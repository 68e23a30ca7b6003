"""ftlab's web app: `python app.py` serves the UI and its API on http://127.0.0.1:7860.

The OpenAI-compatible API (ftlab.api) is served at /v1 on the same port.
Options: --host (default 127.0.0.1; 0.0.0.0 only if you mean to expose it), --port, --share.
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
    parser.add_argument("--max-file-size", default="200mb", help="largest upload accepted")
    return parser.parse_args(argv)


def warm_up() -> None:
    """Import the heavy libraries before serving (~5 s), so the user's first action doesn't wait for them. Not in
    a background thread: transformers' lazy imports are not safe to race with a request's own imports."""
    import torch  # noqa: F401
    import transformers.activations  # noqa: F401 - pulls in the kernels and configs every model needs
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer  # noqa: F401
    from transformers.models.llama import configuration_llama  # noqa: F401


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from ftlab import api
    from ftlab.service import Lab
    from ftlab.ui import build_app, queued

    warm_up()
    lab = Lab()
    demo = build_app(lab)
    queued(demo).launch(
        server_name=args.host, server_port=args.port, share=args.share, max_file_size=args.max_file_size,
        prevent_thread_lock=True)
    api.mount(demo.app, lab)  # the OpenAI-compatible /v1 routes, on the same server
    print(f"OpenAI-compatible API: http://{args.host}:{args.port}/v1", flush=True)
    demo.block_thread()


if __name__ == "__main__":
    main()
