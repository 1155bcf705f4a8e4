"""Load-balancing strategies: pure functions from route statistics to a preference order.

A strategy sees one `RouteView` per candidate route (in the catalog's order) and returns
the order to try them in. The first route gets the call; failover and hedging take the next
ones in the same order. No I/O and no clock: the statistics and the random source are
arguments, so every strategy is tested with numbers alone.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from llm_router import errors

__all__ = [
    "STRATEGIES",
    "RouteView",
    "Strategy",
    "cost",
    "latency",
    "least_busy",
    "ordered",
    "strategy_named",
    "usage",
    "weighted",
]


@dataclass(frozen=True, slots=True)
class RouteView:
    """What a strategy knows about one route."""

    key: str
    in_flight: int = 0
    latency: float | None = None  # recent median time to first byte (None: no samples)
    cost: float | None = None  # estimated dollars for this request (None: unknown price)
    headroom: float = 1.0  # smallest free fraction of its rate limits (1.0: none set)


#: A strategy: (routes, random source) -> indices of `routes` in preference order.
Strategy = Callable[[Sequence[RouteView], random.Random], list[int]]


def ordered(routes: Sequence[RouteView], rng: random.Random) -> list[int]:
    """The catalog's order (the default)."""
    return list(range(len(routes)))


def least_busy(routes: Sequence[RouteView], rng: random.Random) -> list[int]:
    """Fewest attempts in flight first; ties keep the catalog's order."""
    return sorted(range(len(routes)), key=lambda i: routes[i].in_flight)


def usage(routes: Sequence[RouteView], rng: random.Random) -> list[int]:
    """Most headroom under the rate limits first; ties keep the catalog's order."""
    return sorted(range(len(routes)), key=lambda i: -routes[i].headroom)


def cost(routes: Sequence[RouteView], rng: random.Random) -> list[int]:
    """Cheapest estimated cost first (catalog prices for the estimated tokens); routes with
    an unknown price go last, in the catalog's order."""

    def price(i: int) -> float:
        value = routes[i].cost
        return math.inf if value is None else value

    return sorted(range(len(routes)), key=price)


def latency(exploration: float = 0.1) -> Strategy:
    """Lowest recent time to first byte first. Routes without samples count as fastest, so
    each is tried once; with probability `exploration` a random route goes first, so a route
    that was slow and recovered is noticed."""
    if not 0.0 <= exploration <= 1.0:
        raise errors.ConfigurationError(
            f"latency exploration must be between 0 and 1, got {exploration!r}"
        )

    def by_latency(routes: Sequence[RouteView], rng: random.Random) -> list[int]:
        def seconds(i: int) -> float:
            value = routes[i].latency
            return -1.0 if value is None else value

        order = sorted(range(len(routes)), key=seconds)
        if len(order) > 1 and exploration and rng.random() < exploration:
            pick = order.pop(rng.randrange(len(order)))
            order.insert(0, pick)
        return order

    return by_latency


def weighted(weights: Mapping[str, float] | None = None) -> Strategy:
    """A random order drawn by weight, without replacement (so failover still reaches every
    route). `weights` maps route keys or provider aliases to weights (missing: 1.0); without
    weights, each route weighs its rate-limit headroom."""
    for name, value in (weights or {}).items():
        if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
            raise errors.ConfigurationError(
                f"weight for {name!r} must be a finite number >= 0, got {value!r}"
            )

    def weight_of(view: RouteView) -> float:
        if weights is None:
            return view.headroom
        alias = view.key.partition("/")[0]
        return float(weights.get(view.key, weights.get(alias, 1.0)))

    def by_weight(routes: Sequence[RouteView], rng: random.Random) -> list[int]:
        # Efraimidis-Spirakis: sort by u ** (1 / w), a weighted sample without replacement.
        keyed = []
        for i, view in enumerate(routes):
            w = weight_of(view)
            keyed.append((rng.random() ** (1.0 / w) if w > 0 else -1.0, -i, i))
        keyed.sort(reverse=True)
        return [i for _, _, i in keyed]

    return by_weight


STRATEGIES: dict[str, Strategy] = {
    "ordered": ordered,
    "weighted": weighted(),
    "least-busy": least_busy,
    "latency": latency(),
    "cost": cost,
    "usage": usage,
}


def strategy_named(name: str) -> Strategy:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise errors.ConfigurationError(
            f"unknown routing strategy {name!r}; choose one of: {', '.join(STRATEGIES)}"
        ) from None
