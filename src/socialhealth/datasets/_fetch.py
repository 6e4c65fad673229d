"""Download open survey files into the user cache with pooch, verifying registered checksums."""
from __future__ import annotations

import warnings
from pathlib import Path

from socialhealth._stack import user_stacklevel
from socialhealth._deprecation import renamed_parameter
from socialhealth.errors import ChecksumError, DatasetError, SocialHealthWarning
from socialhealth.datasets import _cache, _registry


def download_dir(name: str) -> Path:
    """Where fetched files of ``name`` are kept: ``<cache>/downloads/<name>``."""
    return _cache.cache_dir() / "downloads" / name


def _files_for(name: str, year: int | None) -> list[dict]:
    files = [f for f in _registry.entry(name).get("files", []) if f.get("url")]
    if year is not None:
        files = [f for f in files if int(f.get("year", -1)) == int(year)]
    return files


@renamed_parameter("year", "wave", since="0.1.0")
def cached_file(name: str, wave: int | None = None) -> Path | None:
    """A previously fetched file of ``name`` (and of survey year ``wave``), or None.

    Looks for the registry's file names in ``<cache>/downloads/<name>`` (see :func:`fetch`).

    Examples
    --------
    >>> from socialhealth.datasets._fetch import cached_file
    >>> cached_file("brfss", wave=2023) is None     # until datasets.fetch("brfss", wave=2023)
    True
    """
    for f in _registry.entry(name).get("files", []):
        if wave is not None and int(f.get("year", -1)) != int(wave):
            continue
        p = download_dir(name) / f["name"]
        if p.is_file():
            return p
    return None


@renamed_parameter("year", "wave", since="0.1.0")
def fetch(name: str, wave: int | None = None, *, allow_unverified: bool = False,
          progress: bool = False) -> Path:
    """Download an open survey's registered file into the user cache and verify its sha256.

    Parameters
    ----------
    name : str
        Registry name (``"brfss"``, ``"nhis"``, ``"gss_panel20"`` ...).
    wave : int, optional
        Which survey year's file when the survey registers several (the same ``wave=`` as in
        :func:`~socialhealth.datasets.load`; until 0.2 ``year=``).
    allow_unverified : bool
        Files whose sha256 is not registered are refused unless this is True (then a warning
        is issued and the file's hash is recorded in the cache index).
    progress : bool
        Show pooch's progress bar (needs tqdm).

    Returns
    -------
    pathlib.Path
        The cached file (``<cache>/downloads/<name>/<file>``); a second call finds it there
        and does not download again.

    Raises
    ------
    ChecksumError
        The download does not match the registered sha256 (the bad file is not kept).

    Examples
    --------
    >>> from socialhealth import datasets
    >>> [f["name"] for f in datasets.info("brfss")["files"] if f.get("year") == 2023]
    ['LLCP2023XPT.zip']
    >>> path = datasets.fetch("brfss", wave=2023)   # downloads the CDC file  # doctest: +SKIP

    Then ``datasets.load("brfss", wave=2023)`` reads the cached file.
    """
    import pooch

    entry = _registry.entry(name)
    if entry.get("access") != "open":
        raise DatasetError(
            f"{name} is not an open download (access: {entry.get('access')}); obtain the file "
            f"from {entry.get('url')} and pass it to load(..., path=).")
    files = _files_for(name, wave)
    if not files:
        years = sorted({f.get("year") for f in entry.get("files", [])
                        if f.get("url") and f.get("year")})
        raise DatasetError(
            f"no downloadable file registered for {name}" + (f" wave {wave}" if wave else "")
            + (f" (registered years: {years})" if years else "")
            + f". Download it from {entry.get('url')} and pass path= to load().")
    if len(files) > 1:
        raise DatasetError(f"{name} registers several files; pass wave= (one of "
                           f"{[f.get('year') for f in files]}).")
    f = files[0]
    sha = f.get("sha256")
    if not sha and not allow_unverified:
        raise ChecksumError(
            f"no sha256 is registered for {f['name']} ({f['url']}), so socialhealth cannot "
            f"verify the download. Pass allow_unverified=True to download it anyway, or "
            f"download it yourself and pass path= to load().")
    if not sha:
        warnings.warn(f"downloading {f['name']} without a registered checksum",
                      SocialHealthWarning, stacklevel=user_stacklevel())
    dest = download_dir(name)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        out = pooch.retrieve(f["url"], known_hash=f"sha256:{sha}" if sha else None,
                             fname=f["name"], path=dest, progressbar=progress)
    except ValueError as e:
        if "hash" in str(e).lower():
            raise ChecksumError(
                f"{f['name']} downloaded from {f['url']} does not match its registered sha256 "
                f"{sha}; the file was not kept. The server's file may have changed: report it, "
                f"or download it yourself and pass path=. ({e})") from None
        raise
    return Path(out)
