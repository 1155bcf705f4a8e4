"""Each strategy orders routes as specified, from statistics alone."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from llm_router import errors
from llm_router.strategies import (
    RouteView,
    cost,
    latency,
    least_busy,
    ordered,
    strategy_named,
    usage,
    weighted,
)

RNG = random.Random(0)


def keys(order: list[int], views: list[RouteView]) -> list[str]:
    return [views[i].key for i in order]


def test_ordered_keeps_the_catalog_order() -> None:
    views = [RouteView("a"), RouteView("b"), RouteView("c")]
    assert keys(ordered(views, RNG), views) == ["a", "b", "c"]


def test_least_busy() -> None:
    views = [RouteView("a", in_flight=3), RouteView("b", in_flight=1), RouteView("c", in_flight=1)]
    assert keys(least_busy(views, RNG), views) == ["b", "c", "a"]


def test_cost_puts_unknown_prices_last() -> None:
    views = [RouteView("a", cost=0.02), RouteView("b", cost=None), RouteView("c", cost=0.001)]
    assert keys(cost(views, RNG), views) == ["c", "a", "b"]


def test_usage_prefers_headroom() -> None:
    views = [RouteView("a", headroom=0.1), RouteView("b", headroom=0.9), RouteView("c")]
    assert keys(usage(views, RNG), views) == ["c", "b", "a"]


def test_latency_measures_unknown_routes_first_and_explores() -> None:
    views = [RouteView("slow", latency=2.0), RouteView("new"), RouteView("fast", latency=0.1)]
    assert keys(latency(exploration=0.0)(views, RNG), views) == ["new", "fast", "slow"]
    measured = [RouteView("slow", latency=2.0), RouteView("fast", latency=0.1)]
    rng = random.Random(1)
    firsts = Counter(keys(latency(0.2)(measured, rng), measured)[0] for _ in range(5000))
    # 20% exploration picks uniformly among both: slow goes first ~10% of the time.
    assert 0.07 < firsts["slow"] / 5000 < 0.13


def test_weighted_draws_by_weight_without_replacement() -> None:
    views = [RouteView("a/m"), RouteView("b/m"), RouteView("c/m")]
    strategy = weighted({"a": 3.0, "b/m": 1.0, "c": 0.0})
    rng = random.Random(2)
    firsts = Counter()
    for _ in range(4000):
        order = keys(strategy(views, rng), views)
        assert sorted(order) == ["a/m", "b/m", "c/m"]  # failover still reaches every route
        assert order[-1] == "c/m"  # weight 0: only as a last resort
        firsts[order[0]] += 1
    assert 0.72 < firsts["a/m"] / 4000 < 0.78


def test_weighted_by_headroom_without_weights() -> None:
    views = [RouteView("a", headroom=0.0), RouteView("b", headroom=0.5)]
    assert keys(weighted()(views, random.Random(3)), views) == ["b", "a"]


def test_bad_configuration() -> None:
    with pytest.raises(errors.ConfigurationError, match="exploration"):
        latency(1.5)
    with pytest.raises(errors.ConfigurationError, match="weight for 'a'"):
        weighted({"a": -1})
    with pytest.raises(errors.ConfigurationError, match="least-busy"):
        strategy_named("nope")
