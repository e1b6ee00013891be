"""The traffic history behind the dashboard's chart."""

from __future__ import annotations

from app.traffic import SERIES, TrafficHistory


def stats(messages_in: float) -> dict[str, dict[str, float]]:
    return {"per_second": {name: messages_in if name == "messages_in" else 1.5 for name in SERIES}}


def test_samples_keep_the_last_minutes_in_order() -> None:
    history = TrafficHistory(span=10, interval=2)
    for t in range(0, 30, 2):
        history.add(1000.0 + t, stats(t))
    kept = history.since(0)
    assert [s["t"] for s in kept] == [1018.0, 1020.0, 1022.0, 1024.0, 1026.0, 1028.0]
    assert kept[-1] == {
        "t": 1028.0,
        "messages_in": 28.0,
        "messages_out": 1.5,
        "bytes_in": 1.5,
        "bytes_out": 1.5,
        "refused_updates": 1.5,
    }
    assert [s["t"] for s in history.since(1024.0)] == [1026.0, 1028.0]


def test_a_silent_relay_leaves_a_gap_and_odd_values_are_not_numbers() -> None:
    history = TrafficHistory()
    history.add(10.0, None)
    history.add(12.0, {"per_second": {"messages_in": "lots", "bytes_in": 7}})
    history.add(11.0, stats(3))  # the clock went back: ignored
    gap, odd = history.since(0)
    assert all(gap[name] is None for name in SERIES)
    assert odd["messages_in"] is None and odd["bytes_in"] == 7.0 and odd["messages_out"] is None
