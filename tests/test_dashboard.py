"""The Train tab's dashboard: what it draws for a run's metrics, without a browser (tests/test_browser_current.py
draws it in Chromium)."""

from ftlab.app.ui import dashboard

BASE = {"step": 0, "eval_loss": 2.0, "eval_accuracy": 0.5, "eval_f1_macro": 0.4}
TRAIN = [{"step": s, "train_loss": 2.0 - s / 10, "lr": 1e-3, "grad_norm": 1.0} for s in (1, 2)]
LATER = {"step": 2, "eval_loss": 1.5, "eval_accuracy": 0.75, "eval_f1_macro": 0.7}


def test_a_lone_evaluation_is_explained_until_a_line_can_be_drawn():
    note = dashboard.Dashboard.values({"run_id": "r", "metrics": [BASE, *TRAIN]}, None)[-1]
    assert note.startswith("One evaluation so far")
    assert dashboard.Dashboard.values({"run_id": "r", "metrics": [BASE, *TRAIN, LATER]}, None)[-1] == ""


def test_each_plot_is_coloured_for_the_names_it_draws():
    loss, evals = dashboard.names([BASE, *TRAIN, LATER])
    assert loss == ["train", "train (smoothed)", "eval"] and evals == ["accuracy", "f1_macro"]
    maps = [update["color_map"] for update in dashboard.colors(loss, evals)]
    assert list(maps[1]) == ["accuracy", "f1_macro"] and len(set(maps[1].values())) == 2
    assert dashboard.colors([]) == [{"__type__": "update"}]  # nothing drawn: the plot is left as it is


def test_the_eta_counts_down_between_the_steps_that_write_it():
    snap = {"run_id": "r", "state": "running", "step": 20, "total_steps": 20, "eta": 180.0, "eta_at": 1000.0,
            "now": 1060.0, "started": 900.0}
    assert "ETA 120 s" in dashboard.progress_markdown(snap)  # the final evaluation and report: still to come
    assert "ETA" not in dashboard.progress_markdown({**snap, "state": "completed"})
    assert "ETA 120 s of training, plus the evaluations still due" in dashboard.progress_markdown(
        {**snap, "step": 2, "eta_without_evals": True})


def test_the_export_panel_of_an_app_with_no_runs_offers_safetensors_and_warns_of_nothing(tmp_path, monkeypatch):
    import warnings

    import gradio as gr

    from ftlab.app.lab import Lab
    from ftlab.app.ui import export_panel

    monkeypatch.setenv("FTLAB_HOME", str(tmp_path))
    with warnings.catch_warnings(record=True) as caught, gr.Blocks() as demo:
        warnings.simplefilter("always")
        run = export_panel.build(Lab(), [])
    assert run.value is None and not run.choices
    fmt = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "export-format")
    assert fmt.value == "safetensors" and [v for _, v in fmt.choices] == ["safetensors"]  # no change when a run comes
    assert not [w for w in caught if "safetensors" in str(w.message)]  # a value outside the choices: Gradio warns
