"""A progress bar over a whole scikit-learn parameter search, wherever its fits run (this process or Dask workers).

Parameter sweeps over :class:`~reservoirs.ESN` and :class:`~reservoirs.LSM` are plain ``GridSearchCV`` /
``RandomizedSearchCV`` searches; on a Dask cluster they run through joblib's Dask backend, with nothing of pond's in
between::

    from distributed import Client
    from joblib import parallel_config

    client = Client()                          # a LocalCluster, a scheduler address, a dask_jobqueue cluster
    with parallel_config(backend="dask"):
        search = GridSearchCV(pipe, grid, cv=3, n_jobs=-1)
        fit_with_progress(search, X, y)        # or search.fit(X, y): the same fits, without the bar

The estimators travel to the workers by pickle, and their compiled kernels come from Numba's on-disk cache there
(``cache=True``), so no task compiles.

:func:`fit_with_progress` shows one tqdm bar for the search: the search's scorer is wrapped in one that reports each
score it computes, in this process or, on a Dask worker, as an event on a topic the client subscribes to
(``Worker.log_event`` / ``Client.subscribe_topic``). The scores, and so ``cv_results_`` and ``best_params_``, are
those of the plain search. Fits in other local processes (joblib's default ``loky`` backend with ``n_jobs`` > 1)
have no channel back: there the bar only jumps to the end.
"""
from __future__ import annotations

import os
import threading
import time

from sklearn.base import is_classifier
from sklearn.metrics import check_scoring
from sklearn.model_selection import ParameterGrid, ParameterSampler, check_cv

__all__ = ["fit_with_progress", "n_fits"]

_local_listeners: dict = {}  # topic -> callable(n), for scores computed in this process
_lock = threading.Lock()
_EVENT_WAIT_S = 5.0  # longest wait, after the search, for events still on their way from the workers


class _CountingScorer:
    """A scorer that reports every call on ``topic`` and returns the wrapped scorer's value unchanged."""

    def __init__(self, scorer, topic: str):
        self.scorer = scorer
        self.topic = topic

    def __call__(self, estimator, X, y=None, **kwargs):
        score = self.scorer(estimator, X, y, **kwargs)
        _report(self.topic)
        return score


def _report(topic: str) -> None:
    with _lock:
        listener = _local_listeners.get(topic)
    if listener is not None:
        listener(1)
        return
    try:
        from distributed import get_worker

        get_worker().log_event(topic, 1)
    except (ImportError, ValueError):  # neither this process nor a Dask worker: nobody is listening
        pass


def n_fits(search, X, y=None, groups=None) -> int:
    """Number of fits ``search.fit(X, y)`` runs on the folds (candidates x splits; the final refit excluded)."""
    params = getattr(search, "param_grid", None)
    if params is not None:
        candidates = len(ParameterGrid(params))
    else:
        candidates = len(ParameterSampler(search.param_distributions, search.n_iter,
                                          random_state=search.random_state))
    splits = check_cv(search.cv, y, classifier=is_classifier(search.estimator)).get_n_splits(X, y, groups)
    return candidates * splits


def fit_with_progress(search, X, y=None, *, progress: bool = True, client=None, **fit_params):
    """``search.fit(X, y, **fit_params)`` with a tqdm bar over every fit of the search; returns ``search``.

    Parameters
    ----------
    search : GridSearchCV or RandomizedSearchCV
        The search; its ``scoring`` is wrapped for the fit and restored afterwards (``scorer_`` is then the wrapper,
        which returns the same values).
    X, y : array-like
        Data and targets, as for ``search.fit``.
    progress : bool, default=True
        Show the bar (False: exactly ``search.fit``).
    client : distributed.Client, optional
        The Dask client whose workers run the fits under ``parallel_config(backend="dask")``; default: the current
        client when ``distributed`` is installed and one exists. Its workers' scores reach the bar as events.
    **fit_params
        Passed to ``search.fit`` (e.g. ``groups``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn.pipeline import Pipeline
    >>> from readouts import Ridge
    >>> from reservoirs import ESN
    >>> from reservoirs.sweeps import fit_with_progress
    >>> u = np.sin(np.arange(400) / 5.0)[:, None]
    >>> pipe = Pipeline([("esn", ESN(units=20, seed=0)), ("ridge", Ridge(alpha=1e-6))])
    >>> search = GridSearchCV(pipe, {"esn__spectral_radius": [0.5, 0.9]}, cv=2)
    >>> fit_with_progress(search, u[:-1], u[1:], progress=False).best_params_
    {'esn__spectral_radius': 0.5}
    """
    if not progress:
        return search.fit(X, y, **fit_params)
    from tqdm.auto import tqdm

    per_fit = 2 if search.return_train_score else 1
    total = n_fits(search, X, y, fit_params.get("groups")) * per_fit
    topic = f"pond-sweep-{os.getpid()}-{os.urandom(4).hex()}"
    bar = tqdm(total=total, desc="fits", unit="score" if per_fit > 1 else "fit")
    client = client if client is not None else _current_client()
    original = search.scoring
    with _lock:
        _local_listeners[topic] = bar.update
    if client is not None:
        client.subscribe_topic(topic, lambda event: bar.update(1))
    try:
        search.set_params(scoring=_CountingScorer(check_scoring(search.estimator, scoring=original), topic))
        search.fit(X, y, **fit_params)
        deadline = time.monotonic() + _EVENT_WAIT_S
        while client is not None and bar.n < total and time.monotonic() < deadline:
            time.sleep(0.02)  # the workers' last events may reach the client just after the results
    finally:
        search.set_params(scoring=original)
        if client is not None:
            client.unsubscribe_topic(topic)
        with _lock:
            _local_listeners.pop(topic, None)
        bar.close()
    return search


def _current_client():
    try:
        from distributed import get_client
    except ImportError:
        return None
    try:
        return get_client()
    except ValueError:  # no client in this process
        return None
