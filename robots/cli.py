"""``cfl dataset``: robot episodes as a shareable LeRobot v3.0 dataset.

Registered under the ``cfl.cli`` entry-point group as ``dataset``, so the core CLI picks it up
without importing the robot layer.

- ``cfl dataset export OUT [--from FOLDER] [--campaign C] [--site S] [--team T] [--sim/--real]``
  writes the stored episodes (default ``$CFL_HOME/data/episodes``) that pass the filters as a
  dataset in the new folder OUT, then validates it.
- ``cfl dataset merge OUT DATASET...`` pools datasets (from several sites, say) into OUT, then
  validates it.

Exit codes, as the rest of the CLI: 0 written and valid; 1 written but the validator found
problems (a bug: please report them); 2 bad input (nothing written), with what and the fix.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from cfl.errors import SpecError
from cfl.settings import Settings
from robots.dataset.layout import FRAMELESS_PATH
from robots.dataset.lerobot import export as export_episodes
from robots.dataset.merge import merge as merge_datasets
from robots.dataset.store import EpisodeStore
from robots.dataset.validate import validate
from robots.dataset.writer import Written
from robots.episodes import Episode

__all__ = ["app"]

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Robot episodes: export them as a LeRobot v3.0 dataset, pool datasets.",
)

EXIT_INVALID, EXIT_BAD_INPUT = 1, 2


@app.callback()
def main() -> None:
    """Robot episodes: export them as a LeRobot v3.0 dataset, pool datasets."""
    # A callback keeps the commands sub-commands even when this app is run on its own.


def _bad_input(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(EXIT_BAD_INPUT)


def _report(written: Written) -> None:
    """Validate what was written and say what it holds; exit 1 if it does not validate."""
    problems = validate(written.root)
    if problems:
        typer.echo(f"error: {written.root} was written but does not validate:", err=True)
        for problem in problems:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(EXIT_INVALID)
    frameless = (
        f"; {written.frameless} goal(s) without frames kept in {FRAMELESS_PATH}"
        if written.frameless
        else ""
    )
    typer.echo(
        f"wrote {written.root}: {written.episodes} episode(s), {written.frames} frame(s), "
        f"{written.tasks} task(s) in {written.data_files} data file(s){frameless}; valid LeRobot "
        "v3.0"
    )


def _filter(
    campaign: str | None, site: str | None, team: str | None, sim: bool | None
) -> Callable[[Episode], bool]:
    def keep(episode: Episode) -> bool:
        return (
            (campaign is None or episode.campaign == campaign)
            and (site is None or episode.site == site)
            and (team is None or episode.team == team)
            and (sim is None or episode.is_sim == sim)
        )

    return keep


@app.command()
def export(
    out: Annotated[Path, typer.Argument(metavar="OUT", help="New folder for the dataset.")],
    source: Annotated[
        Path | None,
        typer.Option(
            "--from", metavar="FOLDER", help="Stored episodes (default: $CFL_HOME/data/episodes)."
        ),
    ] = None,
    campaign: Annotated[str | None, typer.Option(help="Only this campaign's episodes.")] = None,
    site: Annotated[str | None, typer.Option(help="Only this site's episodes.")] = None,
    team: Annotated[str | None, typer.Option(help="Only this team's episodes.")] = None,
    sim: Annotated[
        bool | None,
        typer.Option(
            "--sim/--real",
            help="Only simulated, or only real, episodes (default: both).",
        ),
    ] = None,
) -> None:
    """Write stored robot episodes as a LeRobot v3.0 dataset in OUT, then validate it."""
    folder = source if source is not None else Settings().home / "data" / "episodes"
    if not folder.is_dir():
        _bad_input(
            f"no episode folder {folder}; a lab run records episodes in $CFL_HOME/data/episodes "
            "(CFL_HOME is the folder of the run), or pass --from FOLDER"
        )
    filters = {"campaign": campaign, "site": site, "team": team, "sim": sim}
    try:
        episodes = list(EpisodeStore(folder).episodes(_filter(campaign, site, team, sim)))
    except ValueError as exc:
        _bad_input(str(exc))
    if not episodes:
        chosen = ", ".join(f"{k}={v}" for k, v in filters.items() if v is not None) or "none"
        _bad_input(
            f"no stored episode in {folder} matches the filters ({chosen}); check them against "
            "the episodes recorded, or pass --from FOLDER"
        )
    try:
        written = export_episodes(episodes, out)
    except SpecError as exc:
        _bad_input(str(exc))
    _report(written)


@app.command()
def merge(
    out: Annotated[Path, typer.Argument(metavar="OUT", help="New folder for the pooled dataset.")],
    datasets: Annotated[
        list[Path], typer.Argument(metavar="DATASET...", help="LeRobot v3.0 datasets to pool.")
    ],
) -> None:
    """Pool LeRobot v3.0 datasets (from several sites, say) into OUT, then validate it."""
    missing = [str(p) for p in datasets if not p.is_dir()]
    if missing:
        _bad_input(f"no dataset folder {', '.join(missing)}; name existing dataset folders")
    try:
        written = merge_datasets(datasets, out)
    except SpecError as exc:
        _bad_input(str(exc))
    _report(written)
