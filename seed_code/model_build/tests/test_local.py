"""The local dry run and the sample notebook."""

import ast
import math
import re
from pathlib import Path

import nbformat
import yaml

from pipelines.abalone import local_run, model
from pipelines.settings import DATA_KEY

ROOT = Path(__file__).resolve().parents[1]


def test_local_run(capsys):
    assert local_run.main([]) == 0
    out = capsys.readouterr().out
    sizes = re.search(r"train=(\d+) validation=(\d+) test=(\d+) \(total (\d+)\)", out)
    assert sizes, out
    train, validation, test, total = map(int, sizes.groups())
    assert train + validation + test == total == 4177
    assert train == int(0.70 * total) and abs(validation - test) <= 1
    mse = float(re.search(r"test MSE: (\S+)", out).group(1))
    assert math.isfinite(mse)
    expected = "REGISTER" if mse <= model.MSE_THRESHOLD else "DO NOT REGISTER"
    assert re.search(rf"verdict: {expected} ", out), out


def test_local_run_missing_data(capsys):
    assert local_run.main(["--data", str(ROOT / "no-such-file")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_notebook_is_valid_and_uses_the_pipeline():
    notebook = nbformat.read(ROOT / "sagemaker-pipelines-project.ipynb", as_version=4)
    nbformat.validate(notebook)
    code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    for source in code:
        ast.parse("\n".join(line for line in source.splitlines() if not line.lstrip().startswith("%")))
    assert any("build_pipeline(" in source for source in code)
    # The notebook builds the pipeline through build_pipeline; it must not set an experiment
    # config again (pipeline.py passes pipeline_experiment_config=None).
    assert not [source for source in code if re.search(r"experiment_?config", source, re.IGNORECASE)]


def test_buildspec_uploads_where_the_pipeline_reads():
    spec = yaml.safe_load((ROOT / "codebuild-buildspec.yml").read_text())
    commands = " ".join(spec["phases"]["build"]["commands"])
    assert f'/{DATA_KEY}"' in commands and "--sse aws:kms --sse-kms-key-id" in commands
    assert "python -m pipelines.run_pipeline " in commands
    assert float(spec["phases"]["install"]["runtime-versions"]["python"]) >= 3.11
