"""The Judge0 path's typed request and result keep the JSON shape rows have always held."""

from __future__ import annotations

import json

from assay.services.execution.judge0 import ALL_FIELDS, SubmissionIn, normalise
from assay.services.execution.judge0_models import Judge0Request, Judge0Result, SubmissionOut
from assay.services.execution.judge0_run import internal_error_result

STORED_REQUEST_KEYS = [
    "cpu_time_limit", "cpu_extra_time", "wall_time_limit", "memory_limit", "stack_limit",
    "max_processes_and_or_threads", "max_file_size", "number_of_runs", "language_id",
    "source_code", "stdin", "expected_output", "compiler_options", "command_line_arguments",
    "redirect_stderr_to_stdout", "enable_per_process_and_thread_time_limit",
    "enable_per_process_and_thread_memory_limit", "enable_network", "callback_url",
    "additional_files",
]  # fmt: skip
STORED_RESULT_KEYS = [
    "status_id", "message", "stdout", "stderr", "compile_output", "time", "wall_time",
    "memory", "exit_code", "exit_signal",
]  # fmt: skip


def test_a_normalised_request_is_stored_with_the_same_keys_and_json_types() -> None:
    body = SubmissionIn(source_code="print(1)", language_id=71, memory_limit=256000, stdin="x")
    stored = normalise(body, encoded=False).to_stored()
    assert list(stored) == STORED_REQUEST_KEYS
    text = json.dumps(stored)
    assert '"cpu_time_limit": 5.0' in text and '"stack_limit": 64000' in text
    assert '"memory_limit": 256000.0' in text  # a body's float field stays a float
    assert stored["stdin"] == "eA==" and stored["redirect_stderr_to_stdout"] is False
    assert Judge0Request.from_stored(json.loads(text)).to_stored() == stored


def test_results_round_trip_and_errors_have_every_key() -> None:
    error = internal_error_result("internal error, reference abc").to_stored()
    assert list(error) == STORED_RESULT_KEYS
    assert error["status_id"] == 13 and error["stdout"] is None
    result = Judge0Result(status_id=3, stdout="MQo=", time="0.010", memory=1024, exit_code=0)
    assert Judge0Result.from_stored(json.loads(json.dumps(result.to_stored()))) == result


def test_the_shown_submission_has_judge0s_fields_in_judge0s_order() -> None:
    assert tuple(SubmissionOut.model_fields) == ALL_FIELDS
