"""The report names the commit it was written at and every file that differs from it, so a
report is never credited to a commit whose configuration it did not run. Checked in a real
temporary git repository against what git itself says."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from nmt_bottleneck.report.code_version import code_version
from nmt_bottleneck.report.markdown import code

RESULTS = Path("reports")  # the report's folder, as the report stage passes it


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    files = {
        "conf/experiment/cpu.yaml": "a: 1\n",
        "conf/model/attention.yaml": "b: 1\n",
        "params.yaml": "a: 1\n",
        "dvc.lock": "x\n",
        "reports/eval/attention/1.json": "{}\n",
        "reports/report.md": "old\n",
        "src/old_name.py": "c = 1\n",
        ".gitignore": "/models/\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_clean_checkout_gives_the_commit_alone(repo):
    assert code_version(RESULTS) == (git(repo, "rev-parse", "--short", "HEAD"), [])


def test_changed_config_is_named_and_the_pipelines_own_outputs_are_not(repo):
    (repo / "conf/experiment/cpu.yaml").write_text("a: 2\n")
    (repo / "params.yaml").write_text("a: 2\n")
    (repo / "conf/model/luong.yaml").write_text("new\n")  # untracked, not ignored
    git(repo, "mv", "src/old_name.py", "src/new_name.py")  # staged rename
    (repo / "dvc.lock").write_text("y\n")
    (repo / "reports/eval/attention/1.json").write_text('{"bleu": 1}\n')
    (repo / "reports/eval/attention/2.json").write_text("{}\n")  # a new seed's, untracked
    (repo / "reports/data").mkdir()
    (repo / "reports/data/manifest.json").write_text("{}\n")  # another stage's output
    (repo / "reports/report.md").unlink()
    (repo / "models/attention/1").mkdir(parents=True)
    (repo / "models/attention/1/model.pt").write_text("ignored by git\n")
    head, changed = code_version(RESULTS)
    assert head == git(repo, "rev-parse", "--short", "HEAD")
    assert changed == [
        "conf/experiment/cpu.yaml",
        "conf/model/luong.yaml",
        "params.yaml",
        "src/new_name.py",
        "src/old_name.py",  # a staged rename: both names
    ]
    line = code(head, changed)
    assert line.startswith(f"Written at commit `{head}`, with uncommitted changes to ")
    assert all(f"`{c}`" in line for c in changed)


def test_outside_a_git_checkout_it_says_unknown(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    assert code_version(RESULTS) == ("unknown (not a git checkout)", [])


def test_a_long_list_is_cut_and_counted():
    changed = [f"conf/f{i}.yaml" for i in range(11)]
    line = code("abc1234", changed, shown=8)
    assert "`conf/f7.yaml` and 3 more." in line
    assert "`conf/f8.yaml`" not in line
    assert code("abc1234", []).startswith("Written at commit `abc1234`. ")


def test_a_rename_in_the_work_tree_names_both_paths_and_hides_nothing(repo):
    (repo / "conf/model/attention.yaml").rename(repo / "conf/model/bahdanau.yaml")
    git(repo, "add", "-N", "conf/model/bahdanau.yaml")  # git status: " R new\0old"
    (repo / "params.yaml").write_text("a: 3\n")  # the entry after the rename's pair
    assert code_version(RESULTS)[1] == [
        "conf/model/attention.yaml",
        "conf/model/bahdanau.yaml",
        "params.yaml",
    ]
