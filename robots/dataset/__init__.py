"""Robot episodes, from the lab run to a shareable LeRobot v3.0 dataset.

- :mod:`~robots.dataset.store`: :class:`EpisodeStore`, where a run appends raw episodes
  (``$CFL_HOME/data/episodes/``), one JSON file per goal, crash-safely.
- :mod:`~robots.dataset.lerobot`: :func:`export` writes stored episodes as a LeRobot v3.0 dataset
  with ``kapex/`` provenance columns; torch-free (pyarrow and numpy).
- :mod:`~robots.dataset.merge`: :func:`merge` pools datasets from several sites into one.
- :mod:`~robots.dataset.validate`: :func:`validate` lists what is wrong with a dataset.

The writer (:mod:`~robots.dataset.writer`), the reader (:mod:`~robots.dataset.reader`), the task
table (:mod:`~robots.dataset.tasks`), statistics (:mod:`~robots.dataset.stats`) and the layout's
names (:mod:`~robots.dataset.layout`) are shared by the four. Nothing is imported here, so a
driver that only appends to the store does not load pyarrow.
"""
