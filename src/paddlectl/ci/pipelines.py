"""`paddlectl ci init --provider gitlab|github`: the pipeline file a team commits.

Jobs: unit tests (any runner, in the project's pinned CPU image); train-and-gate on a self-hosted GPU runner
(`train --profile ci`, then `runs gate` against `registry:NAME@production`, the JUnit report wired into the
provider's test report, the run store and the reports kept as artifacts); and, on the default branch once the
gate passed, register (export, package, register as staging). Secrets come from the provider's secret variables
and are never written into the file; the runner's set-up is in the file's comments (and docs/ci.md).

The file is text built here line by line (no YAML dumper: the comments are half of it); every shell line is
checked to read back from YAML as itself (tests/unit/ci parse what this writes).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from paddlectl import __version__
from paddlectl.errors import UsageError
from paddlectl.foundation.git_values import git_line

if TYPE_CHECKING:
    from collections.abc import Callable

    from paddlectl.engine.protocol import ImageInfo
    from paddlectl.project.workspace import Project

PROVIDERS = ("gitlab", "github")
DEFAULT_STATE_DIR = "/srv/paddlectl"
_STATE_DIR = re.compile(r"/[A-Za-z0-9._/-]*")
REPORTS = "reports"


@dataclass(frozen=True)
class PipelineSettings:
    """What the pipeline trains and gates, and where (all paths relative to the repository's top)."""

    provider: str
    model: str  # the registry name the gate compares with and the register job registers
    script: str  # relative to the project folder
    profile: str
    metrics: list[str]
    require: list[str] = field(default_factory=list)
    project_dir: str = "."  # the paddlectl project inside the repository
    cpu_image: str = "paddlepaddle/paddle:3.2.0"
    state_dir: str = DEFAULT_STATE_DIR  # on the GPU runner: the registry and the gate history outlive the jobs
    on_missing_baseline: str = "warn"
    noise_from: int = 10
    register: bool = True

    @property
    def file_name(self) -> str:
        return ".gitlab-ci.yml" if self.provider == "gitlab" else ".github/workflows/paddlectl.yml"


@dataclass(frozen=True)
class Job:
    """One job's shell lines, in order (what a runner executes), for tests and for rendering."""

    name: str
    lines: list[str]


def _q(text: str) -> str:
    return shlex.quote(text)


def jobs(settings: PipelineSettings) -> list[Job]:
    """The jobs' shell lines, the same for both providers (a provider's own variables aside)."""
    enter = [f"cd {_q(settings.project_dir)}"] if settings.project_dir != "." else []
    gate = [
        'paddlectl runs gate "$RUN_ID"',
        f"--baseline {_q(f'registry:{settings.model}@production')}",
        f"--on-missing-baseline {settings.on_missing_baseline}",
    ]
    if settings.noise_from:
        gate.append(f"--noise-from {settings.noise_from}")
    gate += [f"--metric {_q(metric)}" for metric in settings.metrics]
    gate += [f"--require {_q(condition)}" for condition in settings.require]
    gate += [f"--junit {REPORTS}/gate.xml", f"--markdown {REPORTS}/gate.md"]
    unit = [
        *enter,
        "python3 -m pytest --version >/dev/null 2>&1 || python3 -m pip install --quiet pytest",
        'if [ -d tests ]; then python3 -m pytest -q tests; else echo "no tests/ folder: no unit tests to run"; fi',
    ]
    train = [  # reports/ is made after the run: an untracked file during it would make the run dirty
        *enter,
        "paddlectl doctor",
        f'RUN_ID="$(paddlectl train {_q(settings.script)} --profile {_q(settings.profile)} --quiet)"',
        f'mkdir -p {REPORTS} && echo "$RUN_ID" > {REPORTS}/run-id',
        " ".join(gate),
    ]
    result = [Job("unit-tests", unit), Job("train-and-gate", train)]
    if settings.register:
        version = "0.1.$PIPELINE_NUMBER"
        archive = f"dist/{settings.model}-{version}.tar"
        result.append(
            Job(
                "register",
                [
                    *enter,
                    'paddlectl export "$(cat reports/run-id)"',
                    f'paddlectl package "$(cat reports/run-id)" --name {settings.model} --version "{version}" '
                    '-o dist --force ${PADDLECTL_SIGNING_KEY:+--sign "$PADDLECTL_SIGNING_KEY"}',
                    f'paddlectl registry register "{archive}" --status staging --note "pipeline $PIPELINE_NUMBER, '
                    'commit $COMMIT_SHA"',
                ],
            )
        )
    return result


def _runner_setup(settings: PipelineSettings) -> list[str]:
    """The self-hosted GPU runner's set-up, as comment lines."""
    if settings.provider == "gitlab":
        runner = [
            "2. GitLab Runner with the shell executor, tagged gpu, its user allowed to use Docker:",
            "     sudo gitlab-runner register --executor shell --tag-list gpu --url <GitLab> --token <runner token>",
            "     sudo usermod -aG docker gitlab-runner",
        ]
        user = "gitlab-runner"
    else:
        runner = [
            "2. A self-hosted runner with the labels self-hosted and gpu (Settings > Actions > Runners > New",
            "   self-hosted runner: ./config.sh --url <repository> --token <token> --labels gpu), as a service,",
            "   its user allowed to use Docker: sudo usermod -aG docker <runner user>",
        ]
        user = "<runner user>"
    return [
        "The GPU runner, once (a Linux host with an NVIDIA GPU and its driver; nvidia-smi works):",
        "1. Docker, and the NVIDIA Container Toolkit so that containers get the GPU: add NVIDIA's apt repository",
        "   (docs.nvidia.com, 'Installing the NVIDIA Container Toolkit'), then",
        "     sudo apt-get install -y nvidia-container-toolkit",
        "     sudo nvidia-ctk runtime configure --runtime=docker && sudo systemctl restart docker",
        "   check: docker run --rm --gpus all <images.gpu of paddlectl.yaml> nvidia-smi",
        *runner,
        f"3. paddlectl for that user (python3 -m pip install 'paddlectl=={__version__}'), and a folder that outlives",
        f"   the jobs for the registry and the gate history: sudo install -d -o {user} {settings.state_dir}",
        "4. As that user, in a clone of this repository: paddlectl doctor (every required check ok). The training",
        "   runs in the image pinned in paddlectl.yaml: paddlectl starts it; the job itself needs no image.",
    ]


def _header(settings: PipelineSettings) -> list[str]:
    register = (
        ["  register        GPU runner, default branch, after a passed gate: export, package, register as staging"]
        if settings.register
        else []
    )
    if settings.provider == "gitlab":
        secrets = [
            "Secrets: CI/CD variables (Settings > CI/CD > Variables; masked, protected), never in this file:",
            "  PADDLECTL_SIGNING_KEY   type File: an ed25519 private key (paddlectl keys generate); when it is set,",
            "                          the register job signs the package with it",
        ]
    else:
        secrets = [
            "Secrets: repository secrets (Settings > Secrets and variables > Actions), never in this file:",
            "  PADDLECTL_SIGNING_KEY   the text of an ed25519 private key (paddlectl keys generate); when it is set,",
            "                          the register job writes it to a private temporary file and signs with it",
        ]
    secrets.append("  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY   only for a registry with a cold tier (registry.cold)")
    lines = [
        f"paddlectl CI for {settings.model}: written by `paddlectl ci init --provider {settings.provider}` "
        f"(paddlectl {__version__}). Commit it.",
        "",
        f"  unit-tests      any runner, in the project's pinned CPU image ({settings.cpu_image})",
        f"  train-and-gate  GPU runner: train --profile {settings.profile}, gate against "
        f"registry:{settings.model}@production",
        *register,
        "",
        "The gate exits 0 passed, 1 regression, 2 bad usage, 7 not comparable (other data, profile or image),",
        "3 engine unavailable. A model's first run has no production version yet: --on-missing-baseline warn lets",
        "it pass with a warning; make it fail once a version is in production. Promoting stays a person's",
        f"decision: paddlectl registry promote {settings.model} VERSION --to production.",
        "",
        *_runner_setup(settings),
        "",
        *secrets,
    ]
    return [f"# {line}".rstrip() for line in lines]


def _yaml_scalar(line: str) -> str:
    """`line` as a YAML scalar that reads back as itself: plain when it can be, else single-quoted."""
    import yaml

    try:
        if yaml.safe_load(line) == line and not line.startswith(("'", '"')):
            return line
    except yaml.YAMLError:
        pass
    return "'" + line.replace("'", "''") + "'"


def _block(lines: list[str], indent: str) -> list[str]:
    return [f"{indent}{line}" for line in lines]


def _artifact_paths(settings: PipelineSettings, *names: str) -> list[str]:
    base = "" if settings.project_dir == "." else settings.project_dir.rstrip("/") + "/"
    return [f"{base}{name}" for name in names]


def render_gitlab(settings: PipelineSettings) -> str:
    by_name = {job.name: job for job in jobs(settings)}
    history = f"{settings.state_dir}/gate-history/{settings.model}.jsonl"
    store, reports = _artifact_paths(settings, ".paddlectl/", f"{REPORTS}/")
    (junit,) = _artifact_paths(settings, f"{REPORTS}/gate.xml")
    out = [
        *_header(settings),
        "",
        "stages: [test, train, release]",
        "",
        "variables:",
        f"  PADDLECTL_REGISTRY: {settings.state_dir}/registry   # on the GPU runner, shared by its pipelines",
        f"  PADDLECTL_GATE_HISTORY: {history}   # --noise-from reads it",
        '  NO_COLOR: "1"',
        "  PIPELINE_NUMBER: $CI_PIPELINE_IID",
        "  COMMIT_SHA: $CI_COMMIT_SHORT_SHA",
        "",
        "unit-tests:",
        "  stage: test",
        f"  image: {settings.cpu_image}",
        "  script:",
        *_block([f"- {_yaml_scalar(line)}" for line in by_name["unit-tests"].lines], "    "),
        "",
        "train-and-gate:",
        "  stage: train",
        "  tags: [gpu]",
        "  script:",
        *_block([f"- {_yaml_scalar(line)}" for line in by_name["train-and-gate"].lines], "    "),
        "  artifacts:",
        "    when: always   # a failed gate's report and runs are what you need to see",
        "    expire_in: 30 days",
        "    paths:",
        f"      - {store}",
        f"      - {reports}",
        "    reports:",
        f"      junit: {junit}   # the merge request's test report",
    ]
    if settings.register:
        out += [
            "",
            "register:",
            "  stage: release",
            "  tags: [gpu]",
            "  needs: [train-and-gate]   # its run store and reports",
            "  rules:",
            "    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH",
            "  script:",
            *_block([f"- {_yaml_scalar(line)}" for line in by_name["register"].lines], "    "),
            "  artifacts:",
            "    paths:",
            f"      - {_artifact_paths(settings, 'dist/')[0]}",
        ]
    return "\n".join(out) + "\n"


def _run_step(name: str, lines: list[str], *, condition: str | None = None, env: list[str] | None = None) -> list[str]:
    step = [f"      - name: {name}"]
    if condition:
        step.append(f"        if: {condition}")
    if env:
        step += ["        env:", *_block(env, "          ")]
    return [*step, "        run: |", *_block(lines, "          ")]


def render_github(settings: PipelineSettings) -> str:
    by_name = {job.name: job for job in jobs(settings)}
    history = f"{settings.state_dir}/gate-history/{settings.model}.jsonl"
    store, reports, junit = _artifact_paths(settings, ".paddlectl/", f"{REPORTS}/", f"{REPORTS}/gate.xml")
    working = (
        []
        if settings.project_dir == "."
        else [
            "    defaults:",
            "      run:",
            f"        working-directory: {settings.project_dir}",
        ]
    )
    enter = f"cd {_q(settings.project_dir)}"

    def body(job: str) -> list[str]:  # `defaults: working-directory` does that job here
        return [line for line in by_name[job].lines if line != enter]

    out = [
        *_header(settings),
        "",
        "name: paddlectl",
        "on:",
        "  push:",
        "  pull_request:",
        "permissions:",
        "  contents: read",
        "  checks: write   # the JUnit test report",
        "env:",
        f"  PADDLECTL_REGISTRY: {settings.state_dir}/registry   # on the GPU runner, shared by its workflows",
        f"  PADDLECTL_GATE_HISTORY: {history}   # --noise-from reads it",
        '  NO_COLOR: "1"',
        "",
        "jobs:",
        "  unit-tests:",
        "    runs-on: ubuntu-latest",
        f"    container: {settings.cpu_image}",
        *working,
        "    steps:",
        "      - uses: actions/checkout@v4",
        *_run_step("unit tests", body("unit-tests")),
        "",
        "  train-and-gate:",
        "    needs: unit-tests",
        "    runs-on: [self-hosted, gpu]",
        *working,
        "    steps:",
        "      - uses: actions/checkout@v4",
        *_run_step("train and gate", body("train-and-gate")),
        "      - name: test report",
        "        if: always()",
        "        uses: mikepenz/action-junit-report@v4   # pin it to a commit sha in your copy",
        "        with:",
        f"          report_paths: {junit}",
        "          check_name: paddlectl gate",
        "      - name: keep the run store and the reports",
        "        if: always()",
        "        uses: actions/upload-artifact@v4",
        "        with:",
        "          name: paddlectl-runs",
        "          include-hidden-files: true   # .paddlectl/ is a hidden folder",
        "          path: |",
        f"            {store}",
        f"            {reports}",
    ]
    if settings.register:
        out += [
            "",
            "  register:",
            "    needs: train-and-gate",
            "    if: github.ref == format('refs/heads/{0}', github.event.repository.default_branch)",
            "    runs-on: [self-hosted, gpu]",
            *working,
            "    steps:",
            "      - uses: actions/checkout@v4",
            "      - uses: actions/download-artifact@v4",
            "        with:",
            "          name: paddlectl-runs",
            f"          path: {settings.project_dir}",
            *_run_step(
                "export, package, register as staging",
                [
                    'if [ -n "$SIGNING_KEY" ]; then',
                    '  PADDLECTL_SIGNING_KEY="$RUNNER_TEMP/signing.key"',
                    '  (umask 077 && printf \'%s\\n\' "$SIGNING_KEY" > "$PADDLECTL_SIGNING_KEY")',
                    "  export PADDLECTL_SIGNING_KEY",
                    "fi",
                    *body("register"),
                ],
                env=[
                    "SIGNING_KEY: ${{ secrets.PADDLECTL_SIGNING_KEY }}",
                    "PIPELINE_NUMBER: ${{ github.run_number }}",
                    "COMMIT_SHA: ${{ github.sha }}",
                ],
            ),
            "      - uses: actions/upload-artifact@v4",
            "        with:",
            "          name: package",
            f"          path: {_artifact_paths(settings, 'dist/')[0]}",
        ]
    return "\n".join(out) + "\n"


def render(settings: PipelineSettings) -> str:
    return render_gitlab(settings) if settings.provider == "gitlab" else render_github(settings)


@dataclass(frozen=True)
class WrittenPipeline:
    path: Path
    settings: PipelineSettings
    overwrote: bool


def repository_top(project_root: Path) -> Path:
    """The git work tree's top folder (where CI files live), else the project folder itself."""
    top = git_line(project_root, "rev-parse", "--show-toplevel")
    return Path(top).resolve() if top else project_root.resolve()


def check_settings(settings: PipelineSettings, project_root: Path) -> None:
    """UsageError for an unknown provider, a script that is not there, no gate checks, or a bad model name."""
    from paddlectl.packaging.layout import validate_package_name

    if settings.provider not in PROVIDERS:
        raise UsageError(f"--provider {settings.provider}: not one of {', '.join(PROVIDERS)}", hint="--provider gitlab")
    validate_package_name(settings.model)
    if not (project_root / settings.script).is_file():
        raise UsageError(
            f"no training script {settings.script} in {project_root}",
            hint="name it with --script PATH (in the project)",
        )
    if not settings.metrics and not settings.require:
        raise UsageError(
            "the pipeline's gate would check nothing",
            hint="say what it holds: --metric val_acc:max-drop=1% (repeatable) and/or --require 'val_acc>=0.9'",
        )
    if settings.on_missing_baseline not in ("fail", "warn", "pass"):
        raise UsageError(
            f"--on-missing-baseline {settings.on_missing_baseline}: not one of fail, warn, pass",
            hint="warn lets a new model's first pipeline pass while nothing is in production",
        )
    if settings.noise_from < 0:
        raise UsageError(
            f"--noise-from {settings.noise_from}: give a number of earlier gates, 0 or more",
            hint="0 gates on the thresholds alone; 10 takes the spread of the last 10 passed gates",
        )
    if not _STATE_DIR.fullmatch(settings.state_dir):
        raise UsageError(
            f"--state-dir {settings.state_dir!r}: give an absolute folder on the GPU runner (letters, digits, ._/-)",
            hint=f"a runner's pipelines share it, so it cannot depend on the job's folder: e.g. {DEFAULT_STATE_DIR}",
        )


def unpullable_image_warning(reference: str, lookup: Callable[[str], ImageInfo | None]) -> str | None:
    """A warning when the unit-test job's image exists here only as a local build (no registry digest): a CI
    runner, which pulls it, would not find it. None when it came from a registry, or is not here to judge."""
    image = lookup(reference)
    if image is None or image.repo_digests:
        return None
    return (
        f"the unit-test job runs in {reference}, which this engine built (it has no registry digest): a CI runner "
        "cannot pull it; push it to a registry the runners reach, or pin a published image in images.cpu"
    )


def write_pipeline(settings: PipelineSettings, project_root: Path, *, force: bool) -> WrittenPipeline:
    """Write the provider's pipeline file at the repository's top; refuse to replace one without force."""
    from paddlectl.foundation.atomic import write_atomic

    top = repository_top(project_root)
    path = top / settings.file_name
    existed = path.exists()
    if existed and not force:
        raise UsageError(f"{path} already exists", hint="pass --force to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, render(settings))
    return WrittenPipeline(path, settings, existed)


def init_pipeline(
    project: Project,
    provider: str,
    *,
    metrics: list[str],
    require: list[str],
    model: str | None = None,
    script: str = "train.py",
    profile: str = "ci",
    on_missing_baseline: str = "warn",
    noise_from: int = 10,
    register: bool = True,
    state_dir: str = DEFAULT_STATE_DIR,
    force: bool = False,
) -> WrittenPipeline:
    """`paddlectl ci init`: the settings from the project (its name, pinned CPU image, folder in the repository),
    checked, and the file written.

    Raises UsageError for a profile the project does not define, a register job without export.model, or what
    check_settings refuses.
    """
    from paddlectl.ci.thresholds import parse_metric_rules
    from paddlectl.runs.gate import MaxDrop
    from paddlectl.runs.query import parse_condition

    project.config.profile(profile)  # a pipeline that trains a profile paddlectl.yaml lacks fails on every push
    parse_metric_rules(metrics, MaxDrop.parse("0"))
    for condition in require:
        parse_condition(condition)
    if register and not project.config.export.model:
        raise UsageError(
            "the register job exports the model, and paddlectl.yaml has no export.model",
            hint="add export.model (and export.inputs) to paddlectl.yaml, or pass --no-register",
        )
    top = repository_top(project.root)
    project_dir = project.root.resolve().relative_to(top).as_posix() or "."
    settings = PipelineSettings(
        provider=provider,
        model=model or project.config.name,
        script=script,
        profile=profile,
        metrics=list(metrics),
        require=list(require),
        project_dir=project_dir,
        cpu_image=project.config.cpu_image,
        state_dir=state_dir,
        on_missing_baseline=on_missing_baseline,
        noise_from=noise_from,
        register=register,
    )
    check_settings(settings, project.root)
    return write_pipeline(settings, project.root, force=force)
