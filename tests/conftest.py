"""Shared fixtures (a throw-away cache, a small synthetic split) and the test tiers.

Three markers, assigned here so that one table says what each tier holds (``make test-fast``
runs none of the three; ``make test`` runs everything):

* ``chapters``: executes a chapter or a notebook made from one (nbval marks the chapters
  themselves, see the root ``conftest.py``);
* ``realdata``: reads a real dataset: found from the test's own code, the fixtures it uses and
  the module constants it names;
* ``slow``: more than about two seconds on two cores (measured; listed in :data:`SLOW`).
"""

from __future__ import annotations

import inspect
import re

import numpy as np
import pandas as pd
import pytest

from recsys_lib.splits import split_from_frames


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    """An empty data cache; the mirror (if any) stays as configured."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("RECSYS_DATA_DIR", str(cache))
    return cache


@pytest.fixture
def tiny_split():
    """A 30-user, 20-item split with structure (user and item effects plus noise), seeded."""
    rng = np.random.default_rng(0)
    users, items = np.meshgrid(np.arange(30), np.arange(20), indexing="ij")
    users, items = users.ravel(), items.ravel()
    keep = rng.random(users.size) < 0.5
    users, items = users[keep], items[keep]
    truth = 3 + 0.8 * np.sin(users) + 0.6 * np.cos(items) + rng.normal(0, 0.3, users.size)
    frame = pd.DataFrame({"user": users, "item": items, "rating": np.clip(np.round(truth), 1, 5)})
    test_rows = rng.random(len(frame)) < 0.2
    return split_from_frames("tiny", "synthetic", frame[~test_rows], frame[test_rows], (1.0, 5.0))


#: test files, or ``file::test`` names, that execute a chapter or a notebook made from one
CHAPTERS = ("test_students.py::test_generated_notebook_runs_from_an_empty_folder",
            "test_students.py::test_jupyterlab_serves_a_chapter_as_a_notebook",
            "test_course.py::test_student_edition_holds_no_solution",
            "test_course.py::test_student_notebooks_start_with_the_colab_setup_cell",
            "test_course.py::test_catalogue_is_on_the_instructors_page",
            "test_course.py::test_course_notebooks_of_chapters_9_to_12_run_from_an_empty_folder",
            "test_browser.py", "test_template.py::test_template_runs")
#: tests that take more than about two seconds on two cores (durations of a make test run)
SLOW = ("test_analysis.py::test_full_ranking_agrees_with_ranx",
        "test_answers.py::test_bad_input_is_one_error_line_and_no_page",
        "test_student_edition.py",
        "test_course.py::test_a_private_overlay_replaces_an_exercise_and_its_hidden_check",
        "test_course.py::test_a_mistyped_chapter_or_a_foreign_out_folder_touches_nothing",
        "test_baselines.py::test_vectorised_surprise_predict_equals_surprise_per_pair",
        "test_classical.py::test_learns_better_than_global_mean",
        "test_classical.py::test_ml100k_headlines",
        "test_cli.py", "test_command.py::test_sigmoid_range_false_through_the_command_line",
        "test_command.py::test_through_a_real_process",
        "test_cache.py::test_stalled_server_is_reported_within_the_timeout",
        "test_cache.py::test_a_lock_held_by_a_stopped_process_is_named_and_given_up",
        "test_cache.py::test_a_cache_folder_setting_that_names_no_folder_is_one_error",
        "test_plan.py::test_a_fresh_results_folder_and_odd_lines_and_empty_selections",
        "test_plan.py::test_sigterm_to_the_results_driver_ends_its_run_too",
        "test_reproduction.py::test_sigterm_to_rerun_ends_its_child_and_keeps_the_line",
        "test_cache.py::test_the_readme_run_works_under_a_read_only_home_and_lc_all_c",
        "test_checks.py::test_train_refuses_such_paths_before_training_and_saves_with_the_umask",
        "test_kernel.py::test_failure_modes_run", "test_ledger.py",
        "test_packaging.py::test_the_wheel_carries_the_results_plan_table",
        "test_reproduction.py::test_the_foreign_arithmetic_path",
        "test_reproduction.py::test_rerun_keeps_its_files_beside_the_record_and_survives_odd_"
        "machine_facts",
        "test_cache.py::test_a_copy_cut_short_by_a_file_size_limit_is_one_line_and_leaves_"
        "nothing",
        "test_study.py::test_the_blend_refuses_missing_foreign_or_damaged_predictions",
        "test_study.py::test_blend_command_refuses_bad_input_in_one_line",
        "test_study.py::test_significance_and_bootstrap_interval",
        "test_study.py::test_train_saves_predictions_and_topn_with_its_record",
        "test_architecture.py::test_reports_use_only_glossary_keys[spark-als]",
        "test_spark_als.py::test_no_java_is_one_line_and_exit_2",
        "test_spark_als.py::test_unseen_users_and_items_get_the_baseline_and_the_test_set_is_kept",
        "test_spark_als.py::test_checkpoints_keep_a_long_run_alive",
        "test_spark_als.py::test_a_new_driver_memory_restarts_the_jvm",
        "test_spark_als.py::test_the_validation_search_chooses_on_the_slice_and_reports_it",
        "test_spark_als.py::test_one_core_and_two_give_the_same_rmse_on_ml100k",
        "test_spark_als.py::test_the_command_line_prints_one_json_line_and_nothing_else",
        "test_synthetic.py::test_a_file_size_limit_mid_generation_is_one_line_and_leaves_no_part",
        "test_reproduction.py::test_rerun_compares_a_line_that_names_no_model_by_its_command",
        "test_synthetic.py::test_the_rmse_ladder_of_synthetic_ml1m_follows_real_ml1m",
        "test_synthetic.py::test_synthetic_ml1m_statistics_are_close_to_real_ml1m",
        "test_synthetic.py::test_the_datasets_command_lists_the_stand_ins",
        "test_minibatch.py::test_ddp_world_size_2_equals_world_size_1_on_ml100k",
        "test_minibatch.py::test_bad_world_size_on_the_command_line_is_one_line_and_exit_2",
        "test_minibatch.py::test_learns_better_than_global_mean")
REAL_DATASET = re.compile(r"[\"'](ml-100k|ml-1m|douban|jester|amazon-electronics)[\"'/]")


def _listed(item, table) -> bool:
    name = f"{item.path.name}::{getattr(item, 'originalname', item.name)}"
    case = f"{item.path.name}::{item.name}"  # one parametrized case: file::test[id]
    return any(entry in (item.path.name, name, case) for entry in table)


def _reads_real_data(item) -> bool:
    """The test's code, its fixtures' code or a module constant it names mentions a dataset."""
    function = getattr(item, "function", None)
    if function is None:
        return False
    sources = [function]
    fixtures = item._fixtureinfo.name2fixturedefs if hasattr(item, "_fixtureinfo") else {}
    sources += [defs[-1].func for name, defs in fixtures.items() if name in item.fixturenames]
    texts = []
    for source in sources:
        try:
            texts.append(inspect.getsource(source))
        except (OSError, TypeError):
            continue
        texts += [repr(source.__globals__.get(name)) for name in source.__code__.co_names
                  if isinstance(source.__globals__.get(name), (str, list, tuple, dict))]
    return any(REAL_DATASET.search(text) for text in texts)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("chapters") is None and _listed(item, CHAPTERS):
            item.add_marker(pytest.mark.chapters)
        if _listed(item, SLOW):
            item.add_marker(pytest.mark.slow)
        if item.path.suffix == ".py" and _reads_real_data(item):
            item.add_marker(pytest.mark.realdata)
