"""Ray itself: the lazy import, starting or joining a cluster, and the CPU/GPU plan of a run.

Ray is optional (``pip install 'fairbridge[ray]'``): nothing in ``import fairbridge`` imports it,
and every function here imports it through :func:`fairbridge._optional.import_optional` on
first use, so a missing install fails with the command that fixes it.

Why a resource plan
-------------------
Ray Data stalls *silently* (no error, no progress, forever) when the actors of a
``map_batches`` pool reserve every CPU of the cluster: the read, split and write tasks of the
same pipeline ask for one CPU each and never get one.  On a 2-CPU machine this is what
``concurrency=2`` with one CPU per actor does.  :func:`plan_resources` therefore leaves
:data:`RESERVED_CPUS` free for those tasks: by default each actor asks for a share of the
remaining CPUs (fractional where needed), and an explicit ``num_cpus`` or ``num_gpus`` that
cannot fit is refused *before* the run starts, with the numbers and the fix.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from types import ModuleType
from typing import Any

from fairbridge._optional import import_optional
from fairbridge._validation import describe, problem

__all__ = ["RESERVED_CPUS", "ResourcePlan", "import_ray", "init_ray", "is_dataset", "plan_resources"]

#: CPUs left free for Ray Data's own tasks (read, split, write ask for one CPU each).
RESERVED_CPUS = 1.0


def import_ray(purpose: str = "fairbridge.distributed") -> ModuleType:
    """Import ``ray`` (and ``ray.data``), or fail with ``pip install 'fairbridge[ray]'``.

    Parameters
    ----------
    purpose : str
        What needs Ray, quoted in the error.

    Returns
    -------
    ModuleType
        The ``ray`` module, with ``ray.data`` imported.
    """
    import_optional("ray.data", purpose=purpose)
    return import_optional("ray", purpose=purpose)


def is_dataset(obj: Any) -> bool:
    """Whether ``obj`` is a ``ray.data.Dataset``, without importing Ray when it is not loaded.

    The hook that ``fairbridge.audit`` / ``fairbridge.compare`` use to delegate to
    :mod:`fairbridge.distributed`.
    """
    import sys

    data = sys.modules.get("ray.data")
    return data is not None and isinstance(obj, data.Dataset)


def init_ray(address: str | None = None, *, num_cpus: int | None = None,
             runtime_env: dict | None = None, **kwargs: Any) -> ModuleType:
    """Join a running Ray cluster, or start a local one when ``address`` is ``None``.

    Does nothing if Ray is already initialised in this process.

    Parameters
    ----------
    address : str, optional
        A cluster address (``"ray://head:10001"`` for Ray Client, ``"head:6379"`` or
        ``"auto"`` from a node of the cluster).  ``None`` starts a local Ray.
    num_cpus : int, optional
        CPUs of a local Ray (default: all); ignored when joining a cluster.
    runtime_env : dict, optional
        Ray's runtime environment for every worker (e.g. ``{"pip": ["fairbridge[ray]"]}``,
        ``{"env_vars": {"HF_HOME": "/shared/hf"}}``).
    **kwargs
        Passed on to ``ray.init``.

    Returns
    -------
    ModuleType
        The ``ray`` module.
    """
    ray = import_ray("fairbridge.distributed.init_ray")
    if ray.is_initialized():
        return ray
    options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": True}
    options.update(kwargs)
    if runtime_env is not None:
        options["runtime_env"] = runtime_env
    if address is None:
        if num_cpus is not None:
            options["num_cpus"] = num_cpus
        ray.init(**options)
    else:
        ray.init(address=address, **options)
    return ray


@dataclasses.dataclass(frozen=True)
class ResourcePlan:
    """What each scoring actor asks Ray for, and why.

    Attributes
    ----------
    concurrency : int
        Actors in the pool.
    num_cpus : float
        CPUs each actor reserves.
    num_gpus : float
        GPUs each actor reserves.
    torch_threads : int or None
        Threads each CPU actor gives torch (``None``: leave torch's default, on GPU actors).
    cluster_cpus : float
        CPUs the cluster had when the plan was made.
    cluster_gpus : float
        GPUs the cluster had.
    checked : bool
        Whether the plan was checked against the cluster.
    """

    concurrency: int
    num_cpus: float
    num_gpus: float
    torch_threads: int | None
    cluster_cpus: float
    cluster_gpus: float
    checked: bool


def _node_max(ray: ModuleType, key: str) -> float:
    best = 0.0
    for node in ray.nodes():
        if node.get("Alive", node.get("alive", False)):
            best = max(best, float(node.get("Resources", {}).get(key, 0.0)))
    return best


def _floor(x: float, step: float = 0.05) -> float:
    return math.floor(x / step + 1e-9) * step


def plan_resources(*, concurrency: int, num_cpus: float | None, num_gpus: float,
                   check: bool = True, who: str = "fairbridge.distributed.score") -> ResourcePlan:
    """Choose (or check) the CPUs and GPUs of each scoring actor so that the run cannot stall.

    Parameters
    ----------
    concurrency : int
        Actors in the pool.
    num_cpus : float or None
        CPUs per actor; ``None`` picks a share of the cluster that leaves
        :data:`RESERVED_CPUS` free: ``(cluster CPUs - 1) / concurrency``, capped at the
        largest node's CPUs minus one and rounded down to 0.01 (fractional when the actors
        outnumber the free CPUs).  GPU actors use theirs for tokenising and batching.
    num_gpus : float
        GPUs per actor.
    check : bool, default=True
        Compare the plan with the cluster's resources and refuse one that would stall or
        could never be scheduled.  Pass ``False`` on an autoscaling cluster whose nodes do
        not exist yet.
    who : str
        For error messages.

    Returns
    -------
    ResourcePlan
    """
    ray = import_ray(who)
    total = ray.cluster_resources() if ray.is_initialized() else {}
    cpus = float(total.get("CPU", 0.0))
    gpus = float(total.get("GPU", 0.0))
    free = cpus - RESERVED_CPUS
    if num_cpus is None:
        if not ray.is_initialized():
            per = 1.0
        elif free <= 0:
            raise ValueError(problem(
                who, "the Ray cluster", f"must have more than {RESERVED_CPUS:g} CPU so that the "
                "scoring actors leave one CPU to Ray Data's read and split tasks (without it the "
                "run stalls silently)", f"a cluster with {cpus:g} CPU",
                "Start Ray with more CPUs (ray.init(num_cpus=2)), or pass num_cpus=0 to let the "
                "actors share the CPUs without reserving any."))
        else:
            node_cpus = _node_max(ray, "CPU") or cpus
            cap = max(node_cpus - RESERVED_CPUS, 0.05)
            per = max(_floor(min(free / concurrency, cap), 0.01), 0.01)
    else:
        per = float(num_cpus)
    if check and ray.is_initialized():
        _check_fits(ray, who=who, concurrency=concurrency, per_cpu=per, per_gpu=num_gpus,
                    cpus=cpus, gpus=gpus, explicit_cpus=num_cpus is not None)
    threads = None if num_gpus > 0 else max(1, int(per))
    return ResourcePlan(concurrency=concurrency, num_cpus=per, num_gpus=float(num_gpus),
                        torch_threads=threads, cluster_cpus=cpus, cluster_gpus=gpus,
                        checked=bool(check and ray.is_initialized()))


def _check_fits(ray: ModuleType, *, who: str, concurrency: int, per_cpu: float, per_gpu: float,
                cpus: float, gpus: float, explicit_cpus: bool) -> None:
    free = cpus - RESERVED_CPUS
    if explicit_cpus and per_cpu > 0 and concurrency * per_cpu > free + 1e-9:
        most = _floor(max(free, 0.0) / concurrency, 0.01)
        fix_cpus = f"num_cpus={most:g}" if most > 0 else "num_cpus=0"
        raise ValueError(problem(
            who, "arguments 'concurrency' and 'num_cpus'",
            f"must leave {RESERVED_CPUS:g} of the cluster's {cpus:g} CPUs free for Ray Data's "
            "read and split tasks (when the actors take every CPU the run stalls silently)",
            f"concurrency={concurrency} x num_cpus={per_cpu:g} = {concurrency * per_cpu:g} CPUs",
            f"Pass {fix_cpus} (or leave num_cpus=None to choose it), lower concurrency, or add "
            "CPUs; on an autoscaling cluster pass check_resources=False."))
    node_cpus = _node_max(ray, "CPU")
    if per_cpu > node_cpus + 1e-9:
        raise ValueError(problem(
            who, "argument 'num_cpus'", f"must fit on one node (the largest has {node_cpus:g} CPUs)",
            f"{per_cpu:g}", f"Pass num_cpus <= {node_cpus:g}, or check_resources=False on an "
            "autoscaling cluster."))
    if per_gpu > 0:
        node_gpus = _node_max(ray, "GPU")
        if concurrency * per_gpu > gpus + 1e-9 or per_gpu > node_gpus + 1e-9:
            raise ValueError(problem(
                who, "arguments 'concurrency' and 'num_gpus'",
                f"must fit the cluster's {gpus:g} GPUs (at most {node_gpus:g} on one node); an "
                "actor pool that waits for GPUs that do not exist never starts",
                f"concurrency={concurrency} x num_gpus={per_gpu:g}",
                "Pass " + (f"concurrency <= {int(gpus // per_gpu)}, " if gpus >= per_gpu else "")
                + "num_gpus=0 to score on CPUs, or check_resources=False on an autoscaling "
                "cluster."))


def check_positive_int(who: str, name: str, value: Any) -> int:
    """An int >= 1 (``bool`` refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(problem(who, f"argument {name!r}", "must be an integer >= 1",
                                describe(value), f"Pass an int for {name}."))
    if value < 1:
        raise ValueError(problem(who, f"argument {name!r}", "must be an integer >= 1",
                                 describe(value), f"Pass {name} >= 1."))
    return int(value)


def check_nonnegative(who: str, name: str, value: Any, *, allow_none: bool = False) -> float | None:
    """A real number >= 0 (or ``None`` when allowed)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise TypeError(problem(who, f"argument {name!r}",
                                "must be a number >= 0" + (" or None" if allow_none else ""),
                                describe(value), f"Pass a float for {name}."))
    if value < 0:
        raise ValueError(problem(who, f"argument {name!r}", "must be a number >= 0",
                                 describe(value), f"Pass {name} >= 0."))
    return float(value)
