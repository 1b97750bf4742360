import pandas as pd

from gapstudy.report import timing

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def write(path, seconds, rss, cpu):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + f"{seconds}\t0:00:01\t{rss}\t1\t1\t1\t0\t0\t90\t{cpu}\n")
    return path


def test_benchmark_files_summarised_per_rule_and_framework(tmp_path):
    root = tmp_path / "benchmarks"
    paths = [
        write(root / "train/torch/as_posted/cpu/seed0.tsv", 8.0, 300, 7.5),
        write(root / "train/torch/as_posted/cpu/seed1.tsv", 10.0, 320, 9.5),
        write(root / "train/keras/as_posted/cpu/seed0.tsv", 30.0, 770, 29.0),
        write(root / "aggregate.tsv", 2.0, 200, 1.9),
    ]
    jobs = timing.read_benchmarks(paths, root)
    assert list(jobs["rule"]) == ["train", "train", "train", "aggregate"]
    table = timing.summarise(jobs)
    assert list(zip(table.rule, table.framework)) == [("train", "keras"), ("train", "torch"), ("aggregate", "")]
    torch_row = table.iloc[1]
    assert torch_row.jobs == 2 and torch_row.wall_seconds_total == 18.0
    assert torch_row.wall_seconds_median == 9.0 and torch_row.max_rss_mb_max == 320
    assert table["share_of_wall_time"].sum() == 1.0
    assert table.iloc[0].share_of_wall_time == 30.0 / 50.0


def test_the_benchmark_sets_each_config_beside_its_time_before_and_its_limit(monkeypatch):
    from gapstudy import benchmark

    result = {"default_study": {"median_wall_s": 380.0}, "growth": {"seconds_per_seed": 3.0},
              "catalogue": {"median_wall_s": 400.0, "growth": {"seconds_per_seed": 12.0}},
              "diagnosis": {"median_wall_s": 590.0}, "ports": {"cnn": {"wall_s": 160.0}}}
    rows = {r["config"]: r for r in benchmark.against_before(result)}
    assert list(rows) == ["default", "catalogue", "diagnosis", "examples/cnn"]
    assert rows["catalogue"]["ratio"] == 400.0 / benchmark.BEFORE["catalogue"][0]
    assert rows["catalogue"]["seconds_per_seed"] == 12.0 and rows["default"]["seconds_per_seed"] == 3.0
    assert not rows["catalogue"]["met"]  # above its limit of 360 s
    assert rows["diagnosis"]["met"] and rows["examples/cnn"]["met"] and rows["default"]["met"]
    # The default study must not be slower than before, even within its limit.
    monkeypatch.setitem(benchmark.BEFORE, "default", (300, "a faster time before"))
    slower = benchmark.against_before({"default_study": {"median_wall_s": 350.0}})
    assert slower[0]["limit_s"] >= 350.0 and not slower[0]["met"]
