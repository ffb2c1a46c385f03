"""Config files (YAML and TOML) for ``fairbridge compare``: the same options as the flags,
relative paths read from the file's folder, flags override, unknown keys refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fairbridge._config import CONFIG_KEYS, ConfigError, RunConfig, load_config_file, resolve_config

YAML = """\
model: models/credit
data: data/credit.csv
test_size: 0.25
text_column: note
label_column: risk
sensitive_columns: [sex, age_group]
methods: [baseline, fairlearn.threshold_optimizer]
method_options:
  fairlearn.threshold_optimizer: {constraints: equalized_odds}
seed: 3
out: out/report.html
json: out/report.json
refit: head
batch-size: 8
progress: false
"""

TOML = """\
model = "org/hub-model"
data = "data/credit.csv"
test-data = "/abs/test.csv"
label_column = "risk"
sensitive_column = "sex"
methods = ["baseline"]
seed = 3
out = "out/report.html"
markdown = "out/report.md"

[method_options."fairlearn.threshold_optimizer"]
constraints = "equalized_odds"
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_yaml_config(tmp_path):
    (tmp_path / "models" / "credit").mkdir(parents=True)
    path = write(tmp_path, "run.yaml", YAML)
    cfg = resolve_config(path, {})
    assert cfg.model == str(tmp_path / "models" / "credit")  # exists there: made absolute
    assert cfg.data == str(tmp_path / "data" / "credit.csv")
    assert cfg.out == str(tmp_path / "out" / "report.html")
    assert cfg.json == str(tmp_path / "out" / "report.json")
    assert cfg.markdown is None
    assert cfg.text_column == "note" and cfg.label_column == "risk"
    assert cfg.sensitive_columns == ["sex", "age_group"]
    assert cfg.methods == ["baseline", "fairlearn.threshold_optimizer"]
    assert cfg.method_options == {"fairlearn.threshold_optimizer": {"constraints": "equalized_odds"}}
    assert (cfg.seed, cfg.test_size, cfg.batch_size, cfg.progress) == (3, 0.25, 8, False)


def test_toml_config_and_aliases(tmp_path):
    path = write(tmp_path, "run.toml", TOML)
    cfg = resolve_config(path, {})
    assert cfg.model == "org/hub-model"  # no such folder next to the file: a hub id
    assert cfg.test_data == "/abs/test.csv"  # absolute paths stay
    assert cfg.sensitive_columns == ["sex"]  # one name becomes a list
    assert cfg.markdown == str(tmp_path / "out" / "report.md")
    assert cfg.method_options == {"fairlearn.threshold_optimizer": {"constraints": "equalized_odds"}}
    assert cfg.text_column == "text" and cfg.test_size == 0.3  # defaults


def test_command_line_overrides_the_file(tmp_path):
    path = write(tmp_path, "run.yaml", YAML)
    cfg = resolve_config(path, {"seed": 7, "methods": ["aif360.reweighing"], "out": "here.html",
                                "text_column": None, "sensitive_columns": ["sex"],
                                "method_options": '{"aif360.reweighing": {"refit": "head"}}'})
    assert cfg.seed == 7 and cfg.methods == ["aif360.reweighing"] and cfg.out == "here.html"
    assert cfg.text_column == "note"  # None means "not given": the file's value stays
    assert cfg.sensitive_columns == ["sex"]
    assert cfg.method_options == {"aif360.reweighing": {"refit": "head"}}


def test_flags_alone(tmp_path):
    cfg = resolve_config(None, {"model": "m", "data": "d.csv", "sensitive_columns": ["sex"]})
    assert cfg == RunConfig(model="m", data="d.csv", sensitive_columns=["sex"])
    assert set(cfg.to_dict()) == set(CONFIG_KEYS)


def test_unknown_key_lists_the_valid_ones(tmp_path):
    path = write(tmp_path, "run.yaml", "model: m\nmodle: x\nseeds: 2\n")
    msg = (f"fairbridge compare (config {path}): unknown key(s) 'modle', 'seeds'. Valid keys: "
           f"{', '.join(CONFIG_KEYS)}.")
    with pytest.raises(ConfigError, match=re.escape(msg)):
        load_config_file(path)
    assert "batch_size, data, device, engine" in msg  # sorted


@pytest.mark.parametrize("text, message", [
    ("test_size: 1.5", "option 'test_size' must be a fraction strictly between 0 and 1, but got 1.5."),
    ("seed: -1", "option 'seed' must be a non-negative integer, but got -1."),
    ("seed: true", "option 'seed' must be a non-negative integer, but got true."),
    ("refit: partial", "option 'refit' must be one of 'full', 'head', 'none', but got 'partial'."),
    ("sensitive_columns: []", "option 'sensitive_columns' must be a non-empty list of names, but got []."),
    ("method_options: [1]", "option 'method_options' must map each method name to a mapping of its options"),
    ("batch_size: 0", "option 'batch_size' must be 'auto' or an integer >= 1, but got 0."),
    ("progress: maybe", "option 'progress' must be true or false, but got 'maybe'."),
    ("engine: spark", "option 'engine' must be one of 'local', 'ray', but got 'spark'."),
    ("model: 3", "option 'model' must be a non-empty string, but got 3."),
])
def test_bad_values_name_the_option(tmp_path, text, message):
    path = write(tmp_path, "run.yaml", text + "\n")
    with pytest.raises(ConfigError, match=re.escape(f"fairbridge compare (config {path}): {message}")):
        load_config_file(path)


def test_bad_command_line_value():
    with pytest.raises(ConfigError, match=re.escape(
            "fairbridge compare (command line): option 'method_options' must be JSON, but got "
            "'{not json'.")):
        resolve_config(None, {"model": "m", "data": "d", "sensitive_columns": ["s"],
                              "method_options": "{not json"})


def test_required_options():
    with pytest.raises(ConfigError, match=re.escape(
            "fairbridge compare: 'data', 'sensitive_columns' are required, but they were given "
            "neither on the command line nor in a config file. Pass --data, --sensitive-column, "
            "or set them in --config.")):
        resolve_config(None, {"model": "m"})


@pytest.mark.parametrize("name, text, message", [
    ("run.json", "{}", "the config file must end in .yaml, .yml or .toml, but got '.json'."),
    ("run.yaml", "- a\n- b\n", "the file must hold a mapping of options (key: value), but got a list."),
    ("run.yaml", "a: [1,\n", "the file is not valid YAML"),
    ("run.toml", "a = \n", "the file is not valid TOML"),
    ("run.yaml", "seed: 1\nrandom_state: 2\n", "option 'seed' is set twice"),
])
def test_bad_files(tmp_path, name, text, message):
    path = write(tmp_path, name, text)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config_file(path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=re.escape("the config file does not exist")):
        load_config_file(tmp_path / "nope.yaml")


def test_empty_file_is_no_options(tmp_path):
    assert load_config_file(write(tmp_path, "run.yaml", "")) == {}


def test_disparity_names_match_the_metrics_module():
    from fairbridge._config import DISPARITY_NAMES
    from fairbridge._metrics import DISPARITIES

    assert sorted(DISPARITIES) == list(DISPARITY_NAMES)


def test_primary_disparity_and_bootstrap(tmp_path):
    path = write(tmp_path, "run.toml", 'primary_disparity = "equalized_odds_difference"\n'
                                       "n_bootstrap = 0\n")
    assert load_config_file(path) == {"primary_disparity": "equalized_odds_difference",
                                       "n_bootstrap": 0}
    path = write(tmp_path, "bad.toml", 'primary_disparity = "fairness"\n')
    with pytest.raises(ConfigError, match=re.escape("option 'primary_disparity' must be one of "
                                                    "'average_odds_difference', ")):
        load_config_file(path)
