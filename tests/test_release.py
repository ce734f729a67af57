"""Ready to release (#15): CI runs the README's test command on every supported CPython,
release.yml publishes by trusted publishing only from a tag that names the version, the
version comes from one place, and `dev.py test` checks all of it before a tag is pushed."""

from __future__ import annotations

import importlib.util
import itertools
import re
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from packaging.version import Version
from ruamel.yaml import YAML  # check-jsonschema's YAML parser (YAML 1.2: `on` stays a key)

import kalshi_auth
from kalshi_auth._cli import main

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
CI = WORKFLOWS / "ci.yml"
RELEASE = WORKFLOWS / "release.yml"
SUPPORTED = ["3.10", "3.11", "3.12", "3.13"]
TEST_COMMAND = re.compile(r"^python3? dev\.py test(\s|$)")


def load(path: Path) -> dict[str, Any]:
    assert path.is_file(), f"{path.relative_to(ROOT)} is missing"
    document = YAML(typ="safe", pure=True).load(path)
    assert isinstance(document, dict)
    return document


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    found = job.get("steps", [])
    assert isinstance(found, list)
    return found


def commands(job: dict[str, Any]) -> list[str]:
    """Each `run:` of the job, its lines folded into one."""
    return [" ".join(str(step["run"]).split()) for step in steps(job) if "run" in step]


def combinations(matrix: dict[str, Any]) -> list[dict[str, Any]]:
    """The jobs a strategy matrix makes, as GitHub expands it (product, then include)."""
    axes = {key: values for key, values in matrix.items() if key not in ("include", "exclude")}
    made = [dict(zip(axes, values, strict=True)) for values in itertools.product(*axes.values())]
    for extra in matrix.get("include", []):
        matching = [
            combo
            for combo in made
            if all(combo[key] == value for key, value in extra.items() if key in axes)
        ]
        for combo in matching:
            combo.update(extra)
        if not matching:
            made.append(dict(extra))
    return made


def runners(workflow: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(runner, Python version, job) for every job the workflow runs."""
    found = []
    for job in workflow["jobs"].values():
        matrix = job.get("strategy", {}).get("matrix")
        for combo in combinations(matrix) if matrix else [{}]:
            runner = str(job["runs-on"]).replace("${{ matrix.os }}", str(combo.get("os")))
            python = next(
                step["with"]["python-version"]
                for step in steps(job)
                if str(step.get("uses", "")).startswith("actions/setup-python@")
            )
            if python == "${{ matrix.python }}":
                python = combo["python"]
            found.append((runner, python, job))
    return found


# --- both workflows ---------------------------------------------------------------------


@pytest.mark.slow
def test_workflows_validate_against_githubs_schema() -> None:
    """The schema ships inside check-jsonschema: no network."""
    for path in (CI, RELEASE):
        load(path)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            str(CI),
            str(RELEASE),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# --- ci.yml -----------------------------------------------------------------------------


def test_ci_runs_the_readme_test_command_on_every_supported_python() -> None:
    workflow = load(CI)
    assert {"push", "pull_request"} <= set(workflow["on"])
    jobs = runners(workflow)
    for runner, python, job in jobs:
        assert isinstance(python, str), f"{python!r} unquoted: YAML reads 3.10 as 3.1"
        assert any(TEST_COMMAND.match(command) for command in commands(job)), runner
    linux = sorted(python for runner, python, _ in jobs if runner == "ubuntu-latest")
    assert linux == SUPPORTED
    assert any(runner.startswith("macos-") for runner, _, _ in jobs)
    assert any(runner.startswith("windows-") for runner, _, _ in jobs)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "python3 dev.py test " in readme


def test_ci_caches_pip() -> None:
    for runner, _, job in runners(load(CI)):
        (setup,) = [s for s in steps(job) if str(s.get("uses", "")).startswith("actions/setup-")]
        assert setup["with"]["cache"] == "pip", runner


# --- release.yml ------------------------------------------------------------------------


def test_release_publishes_from_version_tags_by_trusted_publishing() -> None:
    workflow = load(RELEASE)
    assert set(workflow["on"]) == {"push"}, "a branch, a pull request or a manual run publishes"
    assert set(workflow["on"]["push"]) == {"tags"}
    assert workflow["on"]["push"]["tags"] == ["v*"]
    assert "id-token" not in workflow.get("permissions", {})

    jobs = workflow["jobs"]
    publishing = {
        name
        for name, job in jobs.items()
        if any(
            str(step.get("uses", "")) == "pypa/gh-action-pypi-publish@release/v1"
            for step in steps(job)
        )
    }
    assert publishing == {"publish"}
    granted = {name for name, job in jobs.items() if "id-token" in job.get("permissions", {})}
    assert granted == {"publish"}
    publish = jobs["publish"]
    assert publish["permissions"] == {"id-token": "write"}
    environment = publish["environment"]
    assert (environment["name"] if isinstance(environment, dict) else environment) == "pypi"
    (upload,) = [s for s in steps(publish) if "uses" in s and "pypi-publish" in s["uses"]]
    assert not set(upload.get("with", {})) & {"password", "user", "api-token", "token"}

    text = RELEASE.read_text(encoding="utf-8")
    assert "secrets." not in text
    assert "password" not in text.lower()


def test_release_builds_checks_and_hands_over_one_artifact() -> None:
    jobs = load(RELEASE)["jobs"]
    build, publish = jobs["build"], jobs["publish"]
    assert "permissions" not in build
    assert "python -m build" in commands(build)
    assert "python -m twine check --strict dist/*" in commands(build)
    assert {"build", "test"} <= set(publish["needs"])
    assert jobs["test"]["uses"] == "./.github/workflows/ci.yml"  # the whole CI, first
    (uploaded,) = [s for s in steps(build) if str(s.get("uses", "")).startswith("actions/upload")]
    (fetched,) = [s for s in steps(publish) if str(s.get("uses", "")).startswith("actions/down")]
    assert uploaded["with"]["name"] == fetched["with"]["name"]
    assert uploaded["with"]["path"].rstrip("/") == fetched["with"]["path"].rstrip("/") == "dist"
    assert [s for s in steps(publish) if "run" in s] == []  # publish only uploads what was built


def tag_check() -> str:
    (step,) = [s for s in steps(load(RELEASE)["jobs"]["build"]) if s.get("shell") == "python"]
    assert step["env"] == {"TAG": "${{ github.ref_name }}"}  # never pasted into the script
    return str(step["run"])


def fake_release(folder: Path, version: str, changelog: str) -> None:
    dist = folder / "dist"
    dist.mkdir()
    name = f"kalshi_auth-{version}"
    with zipfile.ZipFile(dist / f"{name}-py3-none-any.whl", "w") as wheel:
        wheel.writestr(
            f"{name}.dist-info/METADATA",
            f"Metadata-Version: 2.4\nName: kalshi-auth\nVersion: {version}\n",
        )
    (dist / f"{name}.tar.gz").write_bytes(b"")
    (folder / "CHANGELOG.md").write_text(changelog, encoding="utf-8")


DATED = "# Changelog\n\n## [Unreleased]\n\n## [1.2.3] - 2026-12-04\n\n### Added\n- it\n"


@pytest.mark.parametrize(
    ("tag", "changelog", "refusal"),
    [
        ("v1.2.3", DATED, None),
        ("v1.2.4", DATED, "the tag is 'v1.2.4' but the version built is '1.2.3'"),
        ("1.2.3", DATED, "the tag is '1.2.3'"),
        ("v1.2.3", "# Changelog\n\n## [Unreleased]\n", "no '## [1.2.3] - YYYY-MM-DD'"),
        ("v1.2.3", DATED.replace(" - 2026-12-04", ""), "no '## [1.2.3] - YYYY-MM-DD'"),
    ],
    ids=["the-version", "another-version", "no-v", "no-changelog-section", "undated-section"],
)
def test_release_refuses_a_tag_that_is_not_the_version_built(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tag: str,
    changelog: str,
    refusal: str | None,
) -> None:
    fake_release(tmp_path, "1.2.3", changelog)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TAG", tag)
    script = compile(tag_check(), "release.yml", "exec")
    if refusal is None:
        exec(script, {"__name__": "__main__"})
        assert "matches version 1.2.3" in capsys.readouterr().out
    else:
        with pytest.raises(SystemExit) as stopped:
            exec(script, {"__name__": "__main__"})
        assert refusal in str(stopped.value.code)


# --- dev.py test checks a release before its tag ----------------------------------------


def load_dev() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dev", ROOT / "dev.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dev_py_test_checks_workflows_and_builds_before_the_suite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dev = load_dev()
    ran: list[list[str]] = []

    def run(*argv: object) -> None:
        ran.append([str(a) for a in argv])
        if ran[-1][2] == "build":  # as `python -m build` would
            outdir = Path(ran[-1][ran[-1].index("--outdir") + 1])
            outdir.mkdir(parents=True)
            (outdir / "kalshi_auth-0.1.0.tar.gz").touch()

    monkeypatch.setattr(dev, "ensure_venv", lambda *args, **kwargs: None)
    monkeypatch.setattr(dev, "run", run)
    monkeypatch.setattr(dev, "VENV", tmp_path)
    monkeypatch.setattr(sys, "argv", ["dev.py", "test", "-q"])
    monkeypatch.setenv("NO_MKDOCS_2_WARNING", "1")
    dev.test()
    steps = [argv[2] for argv in ran]
    assert steps[-1] == "pytest"
    assert steps.index("check_jsonschema") < steps.index("build") < steps.index("twine")
    assert steps.index("twine") < steps.index("pytest")
    (schema,) = [argv for argv in ran if argv[2] == "check_jsonschema"]
    assert schema[3:5] == ["--builtin-schema", "vendor.github-workflows"]
    assert sorted(schema[5:]) == [str(CI), str(RELEASE)]
    (build,) = [argv for argv in ran if argv[2] == "build"]
    assert str(tmp_path / "dist") in build  # under .venv, never the repository's dist/
    (twine,) = [argv for argv in ran if argv[2] == "twine"]
    assert twine[3:5] == ["check", "--strict"]
    assert twine[5:] == [str(tmp_path / "dist" / "kalshi_auth-0.1.0.tar.gz")]


# --- one version ------------------------------------------------------------------------


def test_the_version_is_a_normalized_release_version() -> None:
    version = kalshi_auth.__version__
    assert str(Version(version)) == version  # so the tag v<version> names the wheel's
    assert not Version(version).is_devrelease
    assert not Version(version).is_prerelease


def test_cli_version_is_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"kalshi-auth {kalshi_auth.__version__}\n"


@pytest.mark.slow
def test_built_wheel_and_sdist_carry_the_package_version(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    version = kalshi_auth.__version__
    name = f"kalshi_auth-{version}"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"{name}-py3-none-any.whl",
        f"{name}.tar.gz",
    ]
    with zipfile.ZipFile(tmp_path / f"{name}-py3-none-any.whl") as wheel:
        wheel_metadata = wheel.read(f"{name}.dist-info/METADATA").decode()
        assert "kalshi_auth/_version.py" in wheel.namelist()
    with tarfile.open(tmp_path / f"{name}.tar.gz") as sdist:
        member = sdist.extractfile(f"{name}/PKG-INFO")
        assert member is not None
        sdist_metadata = member.read().decode()
    for metadata in (wheel_metadata, sdist_metadata):
        headers = Parser().parsestr(metadata, headersonly=True)
        assert headers["Name"] == "kalshi-auth"
        assert headers["Version"] == version
    # The installed command reports the same version, from the same file.
    cli = subprocess.run(
        [sys.executable, "-m", "kalshi_auth", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert cli.stdout == f"kalshi-auth {version}\n"


def test_the_changelog_dates_the_version_being_released() -> None:
    changelog = (Path(__file__).resolve().parents[1] / "CHANGELOG.md").read_text(encoding="utf-8")
    version = re.escape(kalshi_auth.__version__)
    assert re.search(rf"^## \[{version}\] - \d{{4}}-\d{{2}}-\d{{2}}$", changelog, re.M)
    assert changelog.index("## [Unreleased]") < changelog.index(f"## [{kalshi_auth.__version__}]")
