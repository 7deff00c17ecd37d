"""Every text colour of the dashboard on the background it is used on reaches WCAG AA's 4.5:1,
in the light and in the dark scheme."""

from __future__ import annotations

import re

import pytest

from epicstar.web.dashboard.rendering import HERE

STYLESHEET = (HERE / "static" / "dashboard.css").read_text()

PAIRS = [
    ("text", "bg"),
    ("text", "surface"),
    ("muted", "bg"),
    ("muted", "surface"),
    ("muted", "neutral-bg"),
    ("accent", "bg"),
    ("accent", "surface"),
    ("accent-text", "accent"),
    ("ok", "ok-bg"),
    ("warn", "warn-bg"),
    ("bad", "bad-bg"),
    ("info", "info-bg"),
    ("neutral", "neutral-bg"),
    ("bad", "surface"),
    ("bg", "text"),  # the toast
]


def palette(block: str) -> dict[str, str]:
    return dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})\s*;", block))


def schemes() -> dict[str, dict[str, str]]:
    light = STYLESHEET.split("@media (prefers-color-scheme: dark)")[0]
    dark = STYLESHEET.split("@media (prefers-color-scheme: dark)")[1].split("}\n}")[0]
    return {"light": palette(light), "dark": palette(dark)}


def luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(first: str, second: str) -> float:
    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_is_readable_on_its_background(scheme: str) -> None:
    colours = schemes()[scheme]
    assert len(colours) >= 17, "the palette could not be read from the stylesheet"
    weak = {
        f"{fg} on {bg}": round(contrast(colours[fg], colours[bg]), 2)
        for fg, bg in PAIRS
        if contrast(colours[fg], colours[bg]) < 4.5
    }
    assert weak == {}


def test_the_contrast_formula_matches_wcag() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
