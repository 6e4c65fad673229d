"""The ``socialhealth`` command line.

::

    socialhealth report --dataset demo --output report.html
    socialhealth report --dataset gss_panel20 --path gss_panel20.dta --wave 2020 \\
        --exposure "ucla3_isolated>=3" --format pdf --output gss.pdf
    socialhealth datasets
    socialhealth describe --dataset ess --path ESS7GB.sav

Errors print one line (``socialhealth: error: ...``) and exit with status 2 (bad usage) or 1
(the data or the request cannot be processed); ``--debug`` shows the traceback instead. On a
terminal, long steps show a progress bar on standard error.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import threading

PROG = "socialhealth"
FORMATS = ("html", "md", "pdf", "docx")
EXIT_DATA, EXIT_USAGE = 1, 2


class UsageError(Exception):
    """Bad command-line usage (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage block) and exit status 2."""

    def error(self, message: str):  # noqa: D401 - argparse API
        raise UsageError(f"{message} (see '{self.prog} --help')")


class Progress:
    """A one-line progress bar on standard error, drawn only on a terminal.

    Each call starts a step (``progress("loading gss_panel20")``); while a step runs, a
    background thread redraws the line with a spinner and the elapsed time, so that long steps
    (reading a large file, replicate-weight variances) visibly progress.
    """

    SPIN = "|/-\\"

    def __init__(self, total: int, stream=None, enabled: bool | None = None):
        import threading

        self.stream = stream or sys.stderr
        self.enabled = (self.stream.isatty() if hasattr(self.stream, "isatty") else False) \
            if enabled is None else enabled
        self.total = max(1, total)
        self.done = 0
        self.message = ""
        self.t0 = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._tick = 0

    def _draw(self) -> None:
        width = 24
        filled = int(width * self.done / self.total)
        bar = "#" * filled + "-" * (width - filled)
        spin = self.SPIN[self._tick % len(self.SPIN)]
        line = (f"\r[{bar}] {self.done}/{self.total} {spin} "
                f"{time.monotonic() - self.t0:5.1f}s {self.message}")
        self.stream.write(line[:100].ljust(100))
        self.stream.flush()

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            with self._lock:
                self._tick += 1
                self._draw()

    def __call__(self, message: str) -> None:
        self.done = min(self.total, self.done + 1)
        self.message = message
        if not self.enabled:
            return
        with self._lock:
            self._draw()
        if self._thread is None:
            import threading

            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()

    def substep(self, message: str) -> None:
        """Show progress inside the current step without advancing the bar."""
        self.message = message
        if self.enabled:
            with self._lock:
                self._draw()

    def write_line(self, text: str) -> None:
        """Print a line (e.g. a warning) without garbling the bar."""
        with self._lock:
            if self.enabled:
                self.stream.write("\r" + " " * 100 + "\r")
            print(text, file=sys.stderr)

    def close(self) -> None:
        """Stop the spinner thread and clear the progress line."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1)
        if self.enabled:
            with self._lock:
                self.stream.write("\r" + " " * 100 + "\r")
                self.stream.flush()


# ----------------------------------------------------------------------------- parser
#: Every keyword option of the registered loaders, as a command-line flag:
#: ``option: (flag, type, metavar, help)``; ``type`` converts the text ("bool" = a switch).
LOADER_OPTIONS = {
    "wave": ("--wave", "wave", "WAVE", "year, round or wave the file must hold, e.g. 2020 for "
             "gss_panel20, 7 for ESS round 7; without --path, an open survey's fetched file of "
             "that year (BRFSS, NHIS)"),
    "weight": ("--weight", str, "NAME", "weight variable or rule instead of the survey's "
               "recommended one (see the loader's documentation)"),
    "country": ("--country", str, "CODE", "ESS: keep one country of an integrated file, e.g. GB"),
    "sddf_path": ("--sddf-path", str, "FILE", "ESS rounds before 9: the round's sample design "
                  "(SDDF) file with psu and stratum"),
    "psu": ("--psu", str, "VAR", "ELSA, OPN, CLS: your file's PSU variable"),
    "strata": ("--strata", str, "VAR", "ELSA, OPN, CLS: your file's stratum variable"),
    "columns": ("--columns", "list", "A,B,...", "extra source variables to keep in the data"),
    "variables": ("--variables", "dict", "KEY=NAME,...", "NHIS, OPN, CLS: your file's variable "
                  "names for codebook keys, e.g. lonely=MCZ_LONELY,weight=WT"),
    "pool": ("--pool", str, "RULE", "BRFSS with several --path files: equal (default) or "
             "sample_size"),
    "health_scale": ("--health-scale", str, "SCALE", "ELSA: self-rated health scale of the wave"),
    "mortality_path": ("--mortality-path", str, "FILE", "ELSA: the end-of-life / mortality file"),
    "followup_end": ("--followup-end", int, "YEAR", "ELSA: last year of mortality follow-up"),
    "seed": ("--seed", int, "N", "demo: seed of the synthetic survey (default 2024)"),
    "replicate": ("--replicate", "bool", None, "demo: use the replicate-weight design"),
    "cache": ("--no-cache", "nocache", None, "do not read or write the harmonised-data cache"),
}

#: Old command-line flags kept for one release as hidden aliases (old -> new); using one prints
#: a deprecation message naming the new flag.
DEPRECATED_FLAGS = {"--year": "--wave"}

EXAMPLES = {
    "report": [
        "socialhealth report --dataset demo --output report.html",
        "socialhealth report --dataset gss_panel20 --path gss_panel20.dta --wave 2020 \\\n"
        "      --exposure 'ucla3_isolated>=3' --outcomes poor_health,depression \\\n"
        "      --format pdf --output gss.pdf",
    ],
    "describe": [
        "socialhealth describe --dataset demo",
        "socialhealth describe --dataset ess --path ESS7GB.sav --sddf-path ESS7SDDFe01.sav",
    ],
    "datasets": [
        "socialhealth datasets",
        "socialhealth datasets | less",
    ],
}


def _epilog(command: str, extra: str = "") -> str:
    import textwrap

    lines = (textwrap.wrap(extra, 78) + [""] if extra else []) + ["examples:"]
    lines += [f"  {e}" for e in EXAMPLES[command]]
    return "\n".join(lines)


def _dataset_names() -> list[str]:
    try:
        from socialhealth.datasets._registry import registry

        return list(registry())
    except Exception:  # noqa: BLE001 - help must print even if the registry cannot be read
        return []


def _outcome_names() -> list[str]:
    try:
        from socialhealth.report.content import content

        return list(content()["outcomes"])
    except Exception:  # noqa: BLE001
        return []


def flag(option: str) -> str:
    """The command-line flag of a loader option (``sddf_path`` -> ``--sddf-path``)."""
    if option == "path":
        return "--path"
    if option in LOADER_OPTIONS:
        return LOADER_OPTIONS[option][0]
    return "--" + option.replace("_", "-")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (subcommands ``report``, ``datasets``, ``describe``)."""
    from socialhealth import __version__
    from socialhealth.design.proportion import METHODS as CI_METHODS

    p = _Parser(prog=PROG, description="Loneliness, social connection and health from public "
                "surveys, with design-based estimates that match R's survey package.",
                epilog="examples:\n  socialhealth datasets\n  socialhealth report --dataset "
                       "demo --output report.html\n\nSee 'socialhealth COMMAND --help'.",
                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = p.add_subparsers(dest="command", metavar="{report,datasets,describe}",
                           parser_class=_Parser)
    names = _dataset_names()

    def data_args(sp):
        sp.add_argument("--dataset", required=True, metavar="NAME",
                        help="registry name, one of: " + ", ".join(names)
                        + " (details: 'socialhealth datasets')")
        sp.add_argument("--path", metavar="FILE", nargs="+",
                        help="the survey file as downloaded (needed for real surveys; several "
                             "files only for BRFSS years to pool)")
        sp.add_argument("--min-age", type=int, metavar="YEARS", dest="min_age",
                        help="keep respondents aged YEARS and over, e.g. 18 for adults (the "
                             "others are dropped and counted; default: the survey's population)")
        g = sp.add_argument_group("loader options (each applies to the surveys whose loader "
                                  "accepts it)")
        for option, (fl, typ, metavar, text) in LOADER_OPTIONS.items():
            if typ == "bool":
                g.add_argument(fl, dest=option, action="store_true", default=None, help=text)
            elif typ == "nocache":
                g.add_argument(fl, dest=option, action="store_false", default=None, help=text)
            else:
                g.add_argument(fl, dest=option, metavar=metavar, default=None, help=text)
        # deprecated spellings of flags, hidden from --help (old flag -> new flag)
        for old, new in DEPRECATED_FLAGS.items():
            sp.add_argument(old, dest="deprecated_" + old.lstrip("-").replace("-", "_"),
                            metavar=new.lstrip("-").upper(), default=None,
                            help=argparse.SUPPRESS)
        sp.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show full tracebacks on errors")

    r = sub.add_parser("report", help="write the loneliness-and-health report of a survey",
                       description="Write one self-contained report (HTML with embedded "
                       "figures, Markdown, PDF or Word).",
                       epilog=_epilog("report", "Conditions ('<column><op><value>', op one of "
                                      ">= > <= < == !=): numbers for number columns, a label "
                                      "for category columns, yes/no for yes/no columns."),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    data_args(r)
    r.add_argument("--output", "-o", metavar="FILE",
                   help="output file (default: report.<format>); checked before the data are "
                        "loaded")
    r.add_argument("--format", choices=FORMATS,
                   help="one of: " + ", ".join(FORMATS)
                   + " (default: from the output extension, else html)")
    r.add_argument("--exposure", default="lonely", metavar="COL",
                   help="yes/no exposure column or condition, e.g. lonely (default), "
                        "'ucla3_isolated>=3', 'lonely_direct==Often/always', 'lonely==yes'")
    r.add_argument("--outcomes", metavar="A,B,...",
                   help="comma-separated yes/no health outcomes or conditions; default: those "
                        "of " + ", ".join(_outcome_names()) + " the survey measures")
    r.add_argument("--ci-method", default="logit", choices=CI_METHODS, metavar="METHOD",
                   help="interval method for proportions, as R svyciprop: one of "
                        + ", ".join(CI_METHODS) + " (default logit)")
    r.add_argument("--waves", metavar="FIRST,...,LAST",
                   help="panels (gss_panel06/08/10/20: interview years; ukhls, elsa, hrs: wave "
                        "numbers): link these waves and add a longitudinal section (exposure "
                        "at the first wave, outcomes at the last; transitions); the other "
                        "sections use the first wave, e.g. --waves 2006,2010")

    sub.add_parser("datasets", help="list the dataset registry",
                   description="List every registered survey: title, country, years, access "
                   "and whether its loader is tested on a real file.",
                   epilog=_epilog("datasets"),
                   formatter_class=argparse.RawDescriptionHelpFormatter).add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    dsc = sub.add_parser("describe", help="print a survey's design summary and codebook",
                         description="Print the design summary and the codebook of a survey.",
                         epilog=_epilog("describe"),
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    data_args(dsc)
    return p


# ----------------------------------------------------------------------------- commands
def loader_options(name: str) -> list[str]:
    """The keyword options the loader of ``name`` accepts (besides ``path``), following a
    loader that forwards ``**kwargs`` to the function its docstring names."""
    import inspect

    from socialhealth.datasets._registry import loader

    fn = loader(name)
    if fn is None:
        return []
    params = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        m = re.search(r":func:`~?([\w.]+)`", fn.__doc__ or "")
        target = fn.__globals__.get(m.group(1).split(".")[-1]) if m else None
        if target is not None:
            params = inspect.signature(target).parameters
    skip = {"path", "name"}
    opts = [k for k, p in params.items() if k not in skip
            and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return list(dict.fromkeys(opts))


def _convert(option: str, text):
    typ = LOADER_OPTIONS[option][1]
    if typ in ("bool", "nocache"):
        return text
    if typ == "wave":
        return int(text) if str(text).isdigit() else text
    if typ is int:
        try:
            return int(text)
        except ValueError:
            raise UsageError(f"{flag(option)} needs a whole number, not {text!r}.") from None
    if typ == "list":
        return [c.strip() for c in str(text).split(",") if c.strip()]
    if typ == "dict":
        out = {}
        for part in str(text).split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise UsageError(f"{flag(option)} takes KEY=NAME pairs separated by commas, "
                                 f"e.g. lonely=MCZ_LONELY,weight=WT (got {part.strip()!r}).")
            k, v = part.split("=", 1)
            out[k.strip()] = v.strip()
        return out
    return text


def _deprecated_flags(args, progress: Progress | None = None) -> None:
    """Move the values of deprecated flags (``--year``) to their new flags (``--wave``)."""
    for old, new in DEPRECATED_FLAGS.items():
        value = getattr(args, "deprecated_" + old.lstrip("-").replace("-", "_"), None)
        if value is None:
            continue
        dest = new.lstrip("-").replace("-", "_")
        if getattr(args, dest, None) is not None:
            raise UsageError(f"{old} is the deprecated spelling of {new}; give only {new}.")
        setattr(args, dest, value)
        _warn(f"{old} is deprecated since socialhealth 0.1.0 and will be removed; use {new} "
              f"instead ({new} {value}).", progress)


def _load(args, progress: Progress | None = None):
    from socialhealth import datasets
    from socialhealth.datasets._registry import entry

    name = args.dataset
    entry(name)  # UnknownDatasetError with suggestions before anything else
    _deprecated_flags(args, progress)
    given = {k: getattr(args, k, None) for k in LOADER_OPTIONS}
    given = {k: v for k, v in given.items() if v is not None}
    accepted = loader_options(name)
    wrong = [k for k in given if k not in accepted]
    if wrong:
        if name == "demo" and wrong == ["wave"]:
            raise UsageError("the demo dataset has no waves; leave out --wave.")
        shown = ", ".join(flag(k) for k in accepted) or "none"
        raise UsageError(f"{', '.join(flag(k) for k in wrong)} does not apply to {name}; its "
                         f"loader options are {shown} (see '{PROG} {args.command} --help').")
    kwargs = {k: _convert(k, v) for k, v in given.items()}
    if getattr(args, "min_age", None) is not None:   # datasets.load's own option, every survey
        kwargs["min_age"] = args.min_age
    paths = list(args.path or [])
    if name == "demo":
        if paths:
            raise UsageError("the demo dataset is generated by socialhealth and takes no --path.")
        path = None
    else:
        from socialhealth.errors import SurveyFileError

        for p_ in paths + [kwargs[k] for k in ("sddf_path", "mortality_path") if k in kwargs]:
            if not Path(p_).exists():
                raise SurveyFileError(f"file not found: {p_}. Check the path given on the "
                                      "command line.")
        if len(paths) > 1 and "pool" not in accepted:
            raise UsageError(f"{name} takes one --path file; several files are pooled for "
                             "BRFSS only.")
        path = paths[0] if len(paths) == 1 else (paths or None)
    if progress is not None:
        shown_path = "" if not paths else f" from {Path(paths[0]).name}" + \
            (f" (+{len(paths) - 1})" if len(paths) > 1 else "")
        progress(f"loading {name}{shown_path}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sd = datasets.load(name, path=path, **kwargs)
    for w in caught:
        from socialhealth.errors import SocialHealthWarning

        if issubclass(w.category, SocialHealthWarning):
            _warn(cli_spelling(str(w.message)), progress)
    return sd


_PY_CALL = re.compile(r"datasets\.load\(\s*(['\"])(\w+)\1\s*,\s*path\s*=\s*(['\"])[^'\"]*\3\s*\)")
_PASS_PATH = re.compile(r"path\s*=\s*(['\"])<[^'\"]*>\1\s+to\s+datasets\.load\([^)]*\)")


def cli_spelling(message: str, instructions_only: bool = False) -> str:
    """A library message with Python option spellings (``sddf_path=``, ``wave=``) replaced by
    the command-line flags (``--sddf-path``, ``--wave``).

    Examples
    --------
    >>> cli_spelling("Pass sddf_path= to merge the round's SDDF file.")
    "Pass --sddf-path to merge the round's SDDF file."
    >>> cli_spelling("pass wave=2020 or weight='wtssall'")
    'pass --wave 2020 or --weight wtssall'
    >>> cli_spelling("the raw items (columns=['lonely1_2', 'lonely2_2'])")
    'the raw items (--columns lonely1_2,lonely2_2)'
    >>> cli_spelling("psu=vpsu_2; request them with columns=.", instructions_only=True)
    'psu=vpsu_2; request them with --columns.'
    >>> cli_spelling("pass path=data/x.v2.sav.")
    'pass --path data/x.v2.sav.'
    """
    msg = _PY_CALL.sub(lambda m: f"--dataset {m.group(2)} --path FILE", message)
    msg = _PASS_PATH.sub("--path FILE", msg)
    msg = re.sub(r"run (datasets\.fetch\([^)]*\))", r"run \1 in Python", msg)
    msg = re.sub(r"\btry exposure '", "try --exposure '", msg)
    names = sorted(set(LOADER_OPTIONS) | {"path"}, key=len, reverse=True)
    # instructions_only: only where the text tells the user what to pass ("Pass x=",
    # "via columns=", "(columns=[...])"), not in descriptions such as "psu=vpsu_2"
    lead = (r"(?:(?<=[Pp]ass )|(?<=via )|(?<=with )|(?<=[Rr]equest )|(?<=\()|(?<= and ))"
            if instructions_only else r"(?<![\w.\-])")
    pat = re.compile(lead + r"(" + "|".join(names)
                     + r")=(?:(['\"])([^'\"]*)\2|\[([^\]]*)\]|([\w/](?:[\w.\-/]*[\w/])?))?")

    def repl(m):
        if m.group(4) is not None:   # a list: columns=['a', 'b'] -> --columns a,b
            value = ",".join(v.strip().strip("'\"") for v in m.group(4).split(",") if v.strip())
        else:
            value = m.group(3) if m.group(3) is not None else m.group(5)
        return flag(m.group(1)) + (f" {value}" if value else "")

    return pat.sub(repl, msg)


def _cli_instructions(rep) -> None:
    """Instructions in a report's text, notes and skip reasons ("Pass sddf_path= ...", a
    codebook note's "(columns=['lonely1_2'])") in the command-line spelling ("--sddf-path",
    "(--columns lonely1_2)"), for a report made by the CLI; descriptions such as "psu=vpsu_2"
    are left as they are."""
    for s in rep.sections:
        s.text = [cli_spelling(t, instructions_only=True) for t in s.text]
        s.notes = [cli_spelling(n, instructions_only=True) for n in s.notes]
        if s.reason:
            s.status = f"skipped: {cli_spelling(s.reason, instructions_only=True)}"


def _warn(message: str, progress: Progress | None = None) -> None:
    text = f"{PROG}: warning: {message}"
    if progress is not None:
        progress.write_line(text)
    else:
        print(text, file=sys.stderr)


def check_output(out: Path) -> None:
    """UsageError unless a report can be written to ``out`` (checked before any data are
    loaded): not a folder, its folder exists and is writable, an existing file is writable."""
    import tempfile

    if out.is_dir():
        raise UsageError(f"the output {out} is a folder; give a file name, e.g. "
                         f"{out / 'report.html'}.")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.exists():
        raise UsageError(f"the output folder {parent} does not exist; create it first or "
                         "choose another --output.")
    if not parent.is_dir():
        raise UsageError(f"the output folder {parent} is not a folder; choose another --output.")
    if out.exists() and not os.access(out, os.W_OK):
        raise UsageError(f"the output file {out} exists and is read-only; choose another "
                         "--output.")
    try:
        with tempfile.NamedTemporaryFile(dir=parent, prefix=".socialhealth-check-"):
            pass
    except OSError as e:
        raise UsageError(f"cannot write to the output folder {parent} "
                         f"({e.strerror or e}); choose another --output.") from None


def _panel_waves(args) -> list[int] | None:
    """The ``--waves`` list (two or more integers, increasing); sets ``--wave`` to the first
    (the wave the cross-sectional sections use) when it was not given."""
    text = getattr(args, "waves", None)
    if not text:
        return None
    if args.dataset == "demo":
        raise UsageError("the demo dataset is not a panel; leave out --waves.")
    try:
        ws = [int(w) for w in str(text).replace(" ", "").split(",") if w]
    except ValueError:
        raise UsageError(f"--waves takes comma-separated wave numbers or years, e.g. --waves "
                         f"2006,2010; got {text!r}.") from None
    if len(ws) < 2 or ws != sorted(set(ws)):
        raise UsageError(f"--waves needs two or more distinct waves, first to last, e.g. "
                         f"--waves 2006,2010; got {text!r}.")
    given = getattr(args, "wave", None)
    if given is not None and str(given) != str(ws[0]):
        raise UsageError(f"--wave {given} and --waves {text}: the report's cross-sectional "
                         f"sections use the first wave of --waves; leave out --wave.")
    args.wave = str(ws[0])
    return ws


def _panel_path(args, waves):
    """The panel's files: the one file (GSS, HRS), or UKHLS / ELSA one --path per wave or a
    folder; ``args.path`` is narrowed to the first wave's file for the cross-sectional load."""
    from socialhealth.datasets._panel_files import _paths

    paths = list(args.path or [])
    if args.dataset in ("ukhls", "elsa"):
        if len(paths) == 1 and Path(paths[0]).is_dir():
            files = _paths(args.dataset, paths[0], waves)
            args.path = [str(files[waves[0]])]
            return paths[0]
        if len(paths) == len(waves):
            args.path = [paths[0]]
            return list(paths)
        raise UsageError(f"{args.dataset} with --waves: give the folder of the wave files or "
                         f"one --path per wave ({len(waves)}), in the order of --waves.")
    return paths[0] if len(paths) == 1 else paths


def _load_panel(args, waves, path, progress):
    from socialhealth import datasets
    from socialhealth.errors import SocialHealthWarning

    progress(f"linking waves {', '.join(map(str, waves))}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        panel = datasets.load_panel(args.dataset, path, waves=waves,
                                    cache=getattr(args, "cache", None) is not False)
    for w in caught:
        if issubclass(w.category, SocialHealthWarning):
            _warn(cli_spelling(str(w.message)), progress)
    return panel


def cmd_report(args) -> int:
    """``socialhealth report``: load the dataset, build the report, write it; returns the exit code.

    Example: ``socialhealth report --dataset demo --output report.html``.
    """
    from socialhealth import report

    fmt = args.format
    out = Path(args.output) if args.output else None
    if fmt is None:
        suffix = out.suffix.lower().lstrip(".") if out else ""
        fmt = {"markdown": "md", "htm": "html"}.get(suffix, suffix)
        if fmt not in FORMATS:
            if out is not None and suffix:
                raise UsageError(f"cannot tell the format from the extension '.{suffix}' of "
                                 f"{out}; add --format html, md, pdf or docx.")
            fmt = "html"
    if out is None:
        out = Path(f"report.{fmt}")
    check_output(out)
    waves = _panel_waves(args)
    progress = Progress(total=8)
    try:
        panel_path = None
        if waves:
            panel_path = _panel_path(args, waves)
        sd = _load(args, progress)
        panel = None
        if waves:
            panel = _load_panel(args, waves, panel_path, progress)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            rep = report.build(sd, exposure=args.exposure, outcomes=args.outcomes,
                               ci_method=args.ci_method, progress=progress, panel=panel)
        from socialhealth.errors import SocialHealthWarning

        for w in caught:
            if issubclass(w.category, SocialHealthWarning):
                _warn(cli_spelling(str(w.message)), progress)
        _cli_instructions(rep)
        progress(f"writing {out.name}")
        rep.save(out, format=fmt)
    finally:
        progress.close()
    skipped = [s for s in rep.sections if not s.ok]
    print(f"wrote {out} ({fmt}; {len(rep.sections) - len(skipped)} of {len(rep.sections)} "
          "sections filled)")
    # sections skipped for the same reason are listed together, the reason said once
    reasons: dict[str, list[str]] = {}
    for s in skipped:
        reasons.setdefault(cli_spelling(s.reason), []).append(s.title)
    for reason, titles in reasons.items():
        if len(titles) == 1:
            print(f"  skipped {titles[0]}: {reason}")
        else:
            print(f"  skipped {len(titles)} sections for one reason:")
            for title in titles:
                print(f"    - {title}")
            print(f"    {reason}")
    return 0


def cmd_datasets(args) -> int:
    """``socialhealth datasets``: print the registry, one block per survey: name, full title,
    country, years, access, loader status and what the loader is tested on (long values wrap,
    nothing is cut).

    Example: ``socialhealth datasets``.
    """
    import shutil
    import textwrap

    from socialhealth import datasets

    df = datasets.list()
    width = max(60, min(120, shutil.get_terminal_size((100, 20)).columns))
    indent = max(len(str(n)) for n in df["name"]) + 2
    pad = " " * indent

    def block(first: str, text: str) -> list[str]:
        return textwrap.wrap(text, width, initial_indent=first, subsequent_indent=pad,
                             break_on_hyphens=False) or [first.rstrip()]

    for i, row in enumerate(df.to_dict("records")):
        if i:
            print()
        get = lambda k, row=row: str(row.get(k, "") or "").strip() or "?"  # noqa: E731
        lines = block(str(row["name"]).ljust(indent), get("title"))
        lines += block(pad, f"country: {get('country')}; years: {get('years')}; "
                            f"access: {get('access')}")
        lines += block(pad, f"loader: {get('loader_status')}; tests: {get('tested_on')}")
        print("\n".join(lines))
    print()
    print(textwrap.fill("Open surveys load with --path FILE (or after datasets.fetch in Python); "
                        "registration / licensed surveys need the file you obtained: --path FILE. "
                        "'tests' says whether the loader's tests read the survey's real "
                        "release or only files generated in its native format.", width))
    return 0


def rows_accounting(prov: dict) -> str:
    """"6,000 read, 1,276 kept; dropped: other waves 4,000; ..." from a load's provenance
    ("" when the provenance does not count rows)."""
    read, kept = prov.get("rows_read"), prov.get("rows_kept")
    if read is None or kept is None:
        return ""
    dropped = {k: int(v) for k, v in (prov.get("rows_dropped") or {}).items() if v}
    text = f"{int(read):,} read, {int(kept):,} kept"
    if dropped:
        text += "; dropped: " + "; ".join(f"{k} {v:,}" for k, v in dropped.items())
    return text


def _describe_header(sd) -> str:
    """The first line of ``describe``: the survey in words, not the object's repr, e.g.
    "European Social Survey: ESS7GB.sav, 2,264 rows, 23 of 42 harmonised concepts measured"."""
    from socialhealth.datasets import info

    try:
        title = str(info(sd.name)["title"]).split(" (")[0]
    except Exception:  # noqa: BLE001 - a SurveyData built by hand may have no registry entry
        title = str(sd.name)
    p = getattr(sd, "provenance", {}) or {}
    cb = getattr(sd, "codebook", None)
    parts = []
    if p.get("file") is not None:
        parts.append(Path(str(p["file"])).name)
    if p.get("wave") is not None:
        parts.append(f"wave {p['wave']}")
    parts.append(f"{len(sd.data):,} rows")
    if cb is not None and len(cb) and "measured" in cb.columns:
        parts.append(f"{int(cb['measured'].sum())} of {len(cb)} harmonised concepts measured")
    return f"{title} ({sd.name}): " + ", ".join(parts)


def cmd_describe(args) -> int:
    """``socialhealth describe``: print a dataset's design summary and codebook.

    Example: ``socialhealth describe --dataset gss_panel20 --path gss_panel20.dta --wave 2020``.
    """
    progress = Progress(total=1)
    try:
        sd = _load(args, progress)
    finally:
        progress.close()
    print(_describe_header(sd))
    print()
    print(sd.design.describe())
    notes = (getattr(sd, "provenance", {}) or {}).get("design")
    if notes:
        print(f"  design note: {cli_spelling(str(notes), instructions_only=True)}")
    pop = (getattr(sd, "provenance", {}) or {}).get("population") or {}
    if pop.get("description"):
        age = pop.get("min_age")             # after "; ", never a second bracket in a row
        print(f"  population: {pop['description']}"
              + (f"; minimum age {age}" if age is not None else ""))
    rows = rows_accounting(getattr(sd, "provenance", {}) or {})
    if rows:
        print(f"  rows of the file: {rows}")
    for note in (getattr(sd, "provenance", {}) or {}).get("notes") or []:
        print(f"  note: {cli_spelling(str(note), instructions_only=True)}")
    print("\nWhat the file gave, per harmonised concept (answered / missing among the "
          f"{len(sd.data):,} rows kept; missing codes counted over the rows read)")
    import shutil
    import textwrap

    from socialhealth.datasets._concepts import concept_problems

    width = max(60, min(120, shutil.get_terminal_size((100, 20)).columns))
    # the design note (the codebook note of weight, strata and psu) and the load's notes (e.g.
    # on single-PSU strata, appended to the strata and psu notes) are shown once, above
    shown = [t for t in [str(notes or "").strip(), *(
        str(n).strip() for n in (getattr(sd, "provenance", {}) or {}).get("notes") or [])] if t]
    for _, row in sd.concept_summary().iterrows():
        src = row["source_variables"]
        if row["n_answered"]:
            head = (f"{row['concept']}: {int(row['n_answered']):,} answered, "
                    f"{int(row['n_missing']):,} missing" + (f"  (from {src})" if src else ""))
        else:
            head = f"{row['concept']}: NOT MEASURED" + (f"  (source {src})" if src else "")
        print(head)
        lines = []
        if row["n_answered"] and row["rule"]:
            # codebook maps to yes/no columns are stored as True/False; say yes/no
            rule = re.sub(r"→\s*True\b", "→yes", re.sub(r"→\s*False\b", "→no", str(row["rule"])))
            lines.append(f"rule: {rule}")
        if row["missing_by_code"]:
            codes = "; ".join(f"{var} " + ", ".join(f"{code}: {int(k):,}"
                                                    for code, k in counts.items())
                              for var, counts in row["missing_by_code"].items())
            lines.append(f"missing codes: {codes}")
        if row["unmapped_codes"]:
            lines.append("UNMAPPED codes (not in the codebook, set to missing): "
                         + ", ".join(f"{code}: {k}" for code, k in row["unmapped_codes"].items()))
        note = row["notes"].strip()
        for said in shown:              # the design note and load notes: printed once, above
            note = note.replace(said, "").strip()
        if note and note != "not measured":
            lines.append("note: " + cli_spelling(note, instructions_only=True))
        for text in lines:
            print(textwrap.fill(text, width, initial_indent="    ", subsequent_indent="      "))
    problems = concept_problems(sd)
    if problems:
        print(f"\n{len(problems)} concept(s) not accounted for by the codebook:")
        for text in problems:
            print(textwrap.fill(text, width, initial_indent="  - ", subsequent_indent="    "))
    return 0


COMMANDS = {"report": cmd_report, "datasets": cmd_datasets, "describe": cmd_describe}


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 data error, 2 usage error)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    os.environ.setdefault("MPLBACKEND", "Agg")
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not args.command:
            raise UsageError("choose a command: report, datasets or describe "
                             f"(see '{PROG} --help')")
        return COMMANDS[args.command](args)
    except UsageError as e:
        if debug:
            raise
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. 'socialhealth datasets | head'
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return EXIT_DATA
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001 - one line for users; --debug for the traceback
        if debug:
            raise
        from socialhealth.errors import SocialHealthError

        msg = cli_spelling(" ".join(str(e).split()))
        if isinstance(e, SocialHealthError):
            from socialhealth.errors import DataNotCachedError, LicensedDataError

            if isinstance(e, (LicensedDataError, DataNotCachedError)) and "--path" not in msg:
                msg += " On the command line: add --path FILE."
            print(f"{PROG}: error: {msg}", file=sys.stderr)
        elif isinstance(e, OSError):
            print(f"{PROG}: error: {e.strerror or msg}: {e.filename or ''}".rstrip(": "),
                  file=sys.stderr)
        else:
            print(f"{PROG}: error: {type(e).__name__}: {msg} (this is a bug in socialhealth; "
                  "rerun with --debug and report the traceback)", file=sys.stderr)
        return EXIT_DATA


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    run()
