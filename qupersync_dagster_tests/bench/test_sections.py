"""A full benchmark run rewrites BENCHMARKS.md but keeps the click and UNLOAD regions."""

from __future__ import annotations

from bench import click_report, sections, unload

MARKERS = [(click_report.START, click_report.END), (unload.START, unload.END)]


def _old_file() -> str:
    return "\n".join(
        [
            "# old report",
            "old figures",
            click_report.START,
            "click figures",
            click_report.END,
            "between",
            unload.START,
            "unload figures",
            unload.END,
            "",
        ]
    )


def test_a_new_report_keeps_both_marked_regions_and_drops_the_old_report():
    written = sections.carry_over("# new report\n", _old_file(), MARKERS)

    assert written.startswith("# new report\n")
    assert "old figures" not in written and "between" not in written
    assert click_report.region(written) == click_report.region(_old_file())
    assert unload.region(written) == unload.region(_old_file())
    assert "click figures" in written and "unload figures" in written


def test_a_file_without_regions_gets_the_new_report_alone():
    assert sections.carry_over("# new\n", "# old\nno markers\n", MARKERS) == "# new\n"


def test_a_region_whose_end_marker_comes_first_is_not_a_region():
    broken = f"{unload.END}\nfigures\n{unload.START}\n"

    assert sections.region(broken, unload.START, unload.END) == ""
