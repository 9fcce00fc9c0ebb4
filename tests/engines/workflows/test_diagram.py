"""Workflow diagrams: well-formed SVG made on the server, with every label escaped and no script."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from flows_helpers import APPOINTMENT_FLOW

from engines.workflows import WorkflowSpec, workflow_svg

SVG = "{http://www.w3.org/2000/svg}"


def parse(text: str) -> ET.Element:
    return ET.fromstring(text)


def test_every_state_and_transition_is_drawn():
    root = parse(workflow_svg(WorkflowSpec.model_validate(APPOINTMENT_FLOW), "zh-CN", title="预约"))
    assert root.tag == SVG + "svg"
    states = [g.get("data-state") for g in root.iter(SVG + "g") if g.get("class") == "state"]
    assert states == list(APPOINTMENT_FLOW["states"])
    texts = [t.text for t in root.iter(SVG + "text")]
    assert "待确认" in texts and "checked_in" in texts
    edges = [g for g in root.iter(SVG + "g") if g.get("class") == "transition"]
    assert len(edges) == 5  # cancel leaves two states
    assert root.find(SVG + "title").text == "预约"


def test_labels_are_escaped_and_nothing_runs():
    hostile = {
        **APPOINTMENT_FLOW,
        "states": {**APPOINTMENT_FLOW["states"], "requested": {"label": '<script>alert(1)</script> & "x"'}},
        "transitions": {
            **APPOINTMENT_FLOW["transitions"],
            "confirm": {"from": "requested", "to": "confirmed", "label": "</text><script>"},
        },
    }
    text = workflow_svg(WorkflowSpec.model_validate(hostile), title="<b>")
    root = parse(text)
    assert "<script" not in text and "onload" not in text
    assert not list(root.iter(SVG + "script"))
    assert '<script>alert(1)</script> & "x"' in [t.text for t in root.iter(SVG + "text")]


def test_self_loops_and_unreachable_states_still_draw():
    spec = WorkflowSpec.model_validate(
        {
            "entity": "x",
            "initial": "open",
            "states": {"open": {}, "lost": {}},
            "transitions": {"retry": {"from": "open", "to": "open"}},
        }
    )
    root = parse(workflow_svg(spec))
    rects = {g.get("data-state"): g.find(SVG + "rect") for g in root.iter(SVG + "g") if g.get("class") == "state"}
    assert float(rects["lost"].get("x")) > float(rects["open"].get("x"))  # unreachable: a column of its own
    assert root.find(f"{SVG}g[@class='transition']/{SVG}path") is not None
