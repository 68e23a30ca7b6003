"""The weight average an auto-tune trial's rung evaluations measure: torch's exponential moving average, the run's
own weights back after each evaluation, and training (and the last evaluation) exactly as without it."""

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from ftlab.config import RunConfig
from ftlab.runs.run_dir import RunDir, read_json
from ftlab.train import engine
from ftlab.train.averaging import Average


def test_the_average_is_torchs_exponential_moving_average_and_the_weights_come_back():
    torch.manual_seed(0)
    model = torch.nn.Linear(8, 3)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    average = Average(list(model.parameters()), 0.9)
    oracle = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.9))
    oracle.update_parameters(model)  # its first update copies the weights, as the average starts from them
    for _ in range(12):
        loss = torch.nn.functional.cross_entropy(model(torch.randn(16, 8)), torch.randint(0, 3, (16,)))
        loss.backward()
        opt.step()
        opt.zero_grad()
        average.update()
        oracle.update_parameters(model)
    own = [p.detach().clone() for p in model.parameters()]
    for kept, expected, mine in zip(average.shadow, oracle.module.parameters(), own):
        assert torch.allclose(kept, expected, atol=1e-6)
        assert not torch.allclose(kept, mine, atol=1e-3)  # twelve steps of SGD at 0.5: the average lags
    with average.applied():
        assert all(torch.equal(p, kept) for p, kept in zip(model.parameters(), average.shadow))
    assert all(torch.equal(p, mine) for p, mine in zip(model.parameters(), own))  # to the bit


def run_with(model, average: float) -> RunDir:
    cfg = RunConfig(task="chat", model=str(model), method="lora")
    cfg.data.path = "pirate_chat"
    cfg.train.learning_rate, cfg.train.max_steps, cfg.train.eval_every = 5e-3, 6, 2
    cfg.train.eval_average = average
    run = RunDir.create(cfg)
    assert engine.run(cfg, run).state == "completed"
    return run


def test_averaged_evaluations_change_what_a_run_measures_mid_way_and_nothing_it_trains(tiny_llama):
    plain, averaged = run_with(tiny_llama, 0.0), run_with(tiny_llama, 0.9)
    evals = {r: [m for m in r.metrics() if "eval_loss" in m] for r in (plain, averaged)}
    trained = {r: [m["train_loss"] for m in r.metrics() if "train_loss" in m] for r in (plain, averaged)}
    assert trained[plain] == trained[averaged]  # the same steps, to the bit
    assert [m["step"] for m in evals[averaged]] == [0, 2, 4, 6]
    base, *middle, last = evals[averaged]
    assert [m.get("averaged") for m in evals[averaged]] == [None, 0.9, 0.9, None]  # the base and the last: its own
    assert base["eval_loss"] == evals[plain][0]["eval_loss"] and last["eval_loss"] == evals[plain][-1]["eval_loss"]
    assert all(m["eval_loss"] != p["eval_loss"] for m, p in zip(middle, evals[plain][1:3]))
    report = read_json(averaged.path / "report.json")
    assert report["step"] == 6 and report["tuned"]["loss"] == last["eval_loss"]  # the report: its own weights


def test_a_config_asking_for_averaged_evaluations_and_early_stopping_is_refused():
    cfg = RunConfig(task="chat", model="m", method="lora")
    cfg.data.path = "pirate_chat"
    cfg.train.eval_average, cfg.train.early_stopping_patience = 0.9, 3
    assert any(p.startswith("train.eval_average / train.early_stopping_patience") for p in cfg.validate())
    cfg.train.early_stopping_patience, cfg.train.eval_average = 0, 1.0
    assert cfg.validate() == ["train.eval_average: 1.0 must be in [0, 1)"]
