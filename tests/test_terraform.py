"""Static checks of terraform/ (no terraform binary, no AWS account here): every ``.tf`` file is
parsed with python-hcl2 and the wiring SPEC §6 asks for is asserted, including the time budget
against the numbers in the code."""

from __future__ import annotations

import ast
import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

import hcl2
import pytest

from app import parse_cors_origins, settings_from_env
from blueprints.openapi import AUTH_MODES, AUTHENTICATED_OPERATIONS
from prices import ConfigError
from prices.settings import PriceSettings

REPO = Path(__file__).resolve().parents[1]
TERRAFORM = REPO / "terraform"
OPTIONS = hcl2.SerializationOptions(
    strip_string_quotes=True, explicit_blocks=False, with_comments=False
)
#: API Gateway's own ceiling for an HTTP API integration.
HTTP_API_MAX_INTEGRATION_MS = 30_000
#: SPEC section 13: past REQUEST_DEADLINE_S the app answers within this margin
DEADLINE_MARGIN_S = 0.5


def parse(path: Path) -> dict[str, Any]:
    return hcl2.loads(path.read_text(encoding="utf-8"), serialization_options=OPTIONS)


def tf_files() -> list[Path]:
    return sorted(TERRAFORM.glob("*.tf"))


class Config:
    """All ``.tf`` files of terraform/, merged by block kind."""

    def __init__(self, files: list[Path]) -> None:
        self.resources: dict[tuple[str, str], dict[str, Any]] = {}
        self.data: dict[tuple[str, str], dict[str, Any]] = {}
        self.variables: dict[str, dict[str, Any]] = {}
        self.outputs: dict[str, dict[str, Any]] = {}
        self.locals: dict[str, Any] = {}
        self.providers: list[dict[str, Any]] = []
        self.terraform: list[dict[str, Any]] = []
        for path in files:
            doc = parse(path)
            for kind, table in (("resource", self.resources), ("data", self.data)):
                for entry in doc.get(kind, []):
                    for rtype, named in entry.items():
                        for name, body in named.items():
                            assert (rtype, name) not in table, f"duplicate {rtype}.{name}"
                            table[(rtype, name)] = body
            for entry in doc.get("variable", []):
                self.variables.update(entry)
            for entry in doc.get("output", []):
                self.outputs.update(entry)
            for entry in doc.get("locals", []):
                self.locals.update(entry)
            for entry in doc.get("provider", []):
                self.providers.append(entry)
            self.terraform.extend(doc.get("terraform", []))

    def resource(self, rtype: str, name: str) -> dict[str, Any]:
        return self.resources[(rtype, name)]

    def default(self, variable: str) -> Any:
        return self.variables[variable]["default"]


@pytest.fixture(scope="module")
def tf() -> Config:
    return Config(tf_files())


def expr(value: Any) -> str:
    """The expression inside ``${...}`` when the whole value is one interpolation."""
    assert isinstance(value, str), value
    match = re.fullmatch(r"\$\{(.*)\}", value, flags=re.S)
    assert match, f"not a single expression: {value!r}"
    return match.group(1)


def block(body: dict[str, Any], name: str) -> dict[str, Any]:
    """The one nested block ``name`` of a resource body."""
    blocks = body[name]
    assert isinstance(blocks, list), (name, blocks)
    assert len(blocks) == 1, (name, blocks)
    result: dict[str, Any] = blocks[0]
    return result


def resolve(value: Any, tf: Config) -> Any:
    """``${var.x}`` / ``${local.x}`` replaced by the variable default or local value."""
    if isinstance(value, str) and (match := re.fullmatch(r"\$\{(var|local)\.(\w+)\}", value)):
        kind, name = match.groups()
        return tf.default(name) if kind == "var" else resolve(tf.locals[name], tf)
    return value


# --- files, style ----------------------------------------------------------------------------


def test_every_tf_file_parses_and_the_layout_is_by_concern() -> None:
    names = {path.name for path in tf_files()}
    assert {"versions.tf", "providers.tf", "variables.tf", "outputs.tf"} <= names
    assert {"lambda.tf", "api.tf", "iam.tf", "logs.tf", "s3.tf"} <= names
    for path in tf_files():
        assert isinstance(parse(path), dict), path


def test_versions_pin_terraform_and_the_aws_provider(tf: Config) -> None:
    (block_,) = tf.terraform
    assert block_["required_version"] == ">= 1.6.0"
    (providers,) = block_["required_providers"]
    assert providers["aws"]["source"] == "hashicorp/aws"
    assert re.fullmatch(r"~> \d+\.\d+", providers["aws"]["version"])


def test_only_plain_aws_resources_no_modules(tf: Config) -> None:
    for path in tf_files():
        assert "module" not in parse(path), path
    assert all(rtype.startswith("aws_") for rtype, _ in tf.resources)


def test_singleton_resources_are_named_this(tf: Config) -> None:
    counts = Counter(rtype for rtype, _ in tf.resources)
    singletons = {(rtype, name) for rtype, name in tf.resources if counts[rtype] == 1}
    assert sorted(key for key in singletons if key[1] != "this") == []


def test_every_variable_has_description_and_type(tf: Config) -> None:
    for name, body in tf.variables.items():
        assert len(body.get("description", "")) > 10, name
        assert "type" in body, name


def test_ranged_and_enumerated_variables_are_validated(tf: Config) -> None:
    numbers = [name for name, body in tf.variables.items() if expr_or(body["type"]) == "number"]
    assert len(numbers) >= 8
    for name, body in tf.variables.items():
        validations = body.get("validation", [])
        if name in numbers:
            assert validations, f"number variable {name} has no validation"
        for validation in validations:
            assert f"var.{name}" in validation["condition"], name
            assert validation["error_message"], name


def expr_or(value: str) -> str:
    return expr(value) if value.startswith("${") else value


@pytest.mark.parametrize(
    ("variable", "allowed", "default"),
    [
        ("auth", ["iam", "jwt", "none"], "iam"),
        ("architecture", ["arm64", "x86_64"], "arm64"),
        ("price_source", ["batu", "cenace", "synthetic"], "synthetic"),
        ("log_level", ["DEBUG", "INFO", "WARNING", "ERROR"], "INFO"),
    ],
    ids=["auth", "architecture", "price_source", "log_level"],
)
def test_enumerated_variables(tf: Config, variable: str, allowed: list[str], default: str) -> None:
    (validation,) = tf.variables[variable]["validation"]
    match = re.fullmatch(rf"contains\((\[.*\]), var\.{variable}\)", expr(validation["condition"]))
    assert match, validation["condition"]
    assert ast.literal_eval(match.group(1)) == allowed
    assert tf.default(variable) == default


def test_every_output_is_described_and_the_key_ones_exist(tf: Config) -> None:
    for name, body in tf.outputs.items():
        assert len(body.get("description", "")) > 10, name
    assert {"api_endpoint", "optimize_url", "function_name", "artifact_bucket"} <= set(tf.outputs)
    assert expr(tf.outputs["api_endpoint"]["value"]) == "aws_apigatewayv2_stage.this.invoke_url"
    assert expr(tf.outputs["function_name"]["value"]) == "aws_lambda_function.this.function_name"


# --- Lambda ----------------------------------------------------------------------------------


def test_lambda_function(tf: Config) -> None:
    fn = tf.resource("aws_lambda_function", "this")
    assert fn["handler"] == "app.lambda_handler"
    assert resolve(fn["runtime"], tf) == "python3.13"
    assert fn["architectures"] == ["${var.architecture}"]
    assert expr(fn["memory_size"]) == "var.memory_size_mb"
    assert tf.default("memory_size_mb") == 1769  # one full vCPU
    assert expr(fn["timeout"]) == "var.lambda_timeout_s"
    assert tf.default("lambda_timeout_s") == 25
    assert expr(fn["role"]) == "aws_iam_role.this.arn"
    assert block(fn, "tracing_config") == {"mode": "Active"}
    logging_config = block(fn, "logging_config")
    assert logging_config["log_format"] == "JSON"
    assert expr(logging_config["log_group"]) == "aws_cloudwatch_log_group.function.name"
    assert expr(fn["reserved_concurrent_executions"]) == "var.reserved_concurrency"
    # Code from the versioned artifact bucket, redeployed when the zip changes.
    assert expr(fn["s3_bucket"]) == "aws_s3_object.this.bucket"
    assert expr(fn["s3_key"]) == "aws_s3_object.this.key"
    assert expr(fn["s3_object_version"]) == "aws_s3_object.this.version_id"
    assert expr(fn["source_code_hash"]) == "local.package_sha256"
    assert expr(tf.locals["package_sha256"]) == "try(filebase64sha256(local.package_path), null)"


def test_lambda_refuses_a_package_built_for_another_target(tf: Config) -> None:
    conditions = [
        expr(p["condition"])
        for p in block(tf.resource("aws_lambda_function", "this"), "lifecycle")["precondition"]
    ]
    assert "try(local.package_manifest.architecture, null) == var.architecture" in conditions
    assert any("package_manifest.python_version" in c for c in conditions)
    assert expr(tf.locals["package_manifest"]) == "try(jsondecode(file(local.manifest_path)), {})"
    # scripts/package_lambda.py writes the manifest next to the zip as <zip>.json
    assert tf.locals["manifest_path"] == "${local.package_path}.json"
    (upload,) = block(tf.resource("aws_s3_object", "this"), "lifecycle")["precondition"]
    assert expr(upload["condition"]) == "local.package_built"


def test_lambda_environment_is_what_the_code_reads(tf: Config) -> None:
    env_block = block(tf.resource("aws_lambda_function", "this"), "environment")
    env = {key: resolve(value, tf) for key, value in env_block["variables"].items()}
    assert set(env) == {
        "LOG_LEVEL",
        "PRICE_SOURCE",
        "BATU_API_URL",
        "BATU_API_KEY_SSM_PARAMETER",
        "CENACE_BASE_URL",
        "PRICE_CONNECT_TIMEOUT_S",
        "PRICE_FETCH_TIMEOUT_S",
        "PRICE_FETCH_DEADLINE_S",
        "PRICE_CACHE_MAX_DAYS",
        "PRICE_MAX_RESPONSE_BYTES",
        "FORECAST_HISTORY_DAYS",
        "REQUEST_DEADLINE_S",
        "CORS_ORIGINS",
        "API_AUTH",
    }
    assert expr(env["CORS_ORIGINS"]) == 'join(",", var.cors_origins)'
    env["CORS_ORIGINS"] = ",".join(tf.default("cors_origins"))
    # Lambda passes every value as a string; the defaults reproduce the code's own defaults.
    as_strings = {key: str(value) for key, value in env.items()}
    settings = settings_from_env(as_strings)
    assert settings["LOG_LEVEL"] == "INFO"
    assert settings["API_AUTH"] == "iam"
    assert settings["CORS_ORIGINS"] == ()
    assert settings["PRICE_SETTINGS"] == PriceSettings(
        batu_api_key_ssm_parameter="/battery-arbitrage/batu-api-key"
    )


def test_every_auth_mode_is_one_the_app_declares(tf: Config) -> None:
    (validation,) = tf.variables["auth"]["validation"]
    match = re.fullmatch(r"contains\((\[.*\]), var\.auth\)", expr(validation["condition"]))
    assert match
    assert sorted(ast.literal_eval(match.group(1))) == sorted(AUTH_MODES)
    for mode in AUTH_MODES:
        assert settings_from_env({"API_AUTH": mode})["API_AUTH"] == mode


# --- API -------------------------------------------------------------------------------------


PUBLIC_ROUTES_EXPR = (
    "concat(local.public_api_routes, local.dashboard_routes, "
    "length(var.cors_origins) > 0 ? local.preflight_routes : [])"
)


def public_routes(tf: Config, *, cors: bool) -> list[str]:
    """local.public_routes for a deployment with or without CORS origins."""
    assert expr(tf.locals["public_routes"]) == PUBLIC_ROUTES_EXPR
    preflight = tf.locals["preflight_routes"] if cors else []
    return [*tf.locals["public_api_routes"], *tf.locals["dashboard_routes"], *preflight]


def routes(tf: Config, *, cors: bool = False) -> dict[str, dict[str, Any]]:
    """route key -> route body, expanding each for_each over its route list."""
    lists = {
        "toset(local.public_routes)": public_routes(tf, cors=cors),
        "toset(local.authenticated_routes)": tf.locals["authenticated_routes"],
    }
    result: dict[str, dict[str, Any]] = {}
    for (rtype, _), body in tf.resources.items():
        if rtype != "aws_apigatewayv2_route":
            continue
        assert expr(body["route_key"]) == "each.value"
        for key in lists[expr(body["for_each"])]:
            assert key not in result, key
            result[key] = body
    return result


PUBLIC_API = ["GET /health", "GET /openapi.json", "GET /strategies", "GET /zones"]
DASHBOARD = ["GET /", "GET /docs", "GET /static/{proxy+}"]
AUTHENTICATED = ["POST /optimize", "POST /siting", "POST /sizing"]


@pytest.mark.parametrize("cors", [False, True], ids=["no-cors", "cors"])
def test_exactly_these_routes_all_to_the_lambda_integration(tf: Config, cors: bool) -> None:
    table = routes(tf, cors=cors)
    preflight = ["OPTIONS /{proxy+}"] if cors else []
    assert sorted(table) == sorted([*PUBLIC_API, *DASHBOARD, *AUTHENTICATED, *preflight])
    for body in table.values():
        assert body["target"] == "integrations/${aws_apigatewayv2_integration.this.id}"
        assert expr(body["api_id"]) == "aws_apigatewayv2_api.this.id"


def test_read_only_dashboard_and_preflight_routes_are_public(tf: Config) -> None:
    table = routes(tf, cors=True)
    for key in [*PUBLIC_API, *DASHBOARD, "OPTIONS /{proxy+}"]:
        assert table[key]["authorization_type"] == "NONE", key
        assert "authorizer_id" not in table[key]


def test_the_authenticated_routes_are_the_ones_the_openapi_document_guards(tf: Config) -> None:
    declared = {(m.lower(), path) for m, path in (r.split(" ") for r in AUTHENTICATED)}
    assert declared == AUTHENTICATED_OPERATIONS
    assert sorted(tf.locals["authenticated_routes"]) == AUTHENTICATED


def test_the_optimize_route_keeps_its_state_address(tf: Config) -> None:
    (api,) = [parse(TERRAFORM / "api.tf")]
    (moved,) = api["moved"]
    assert moved == {
        "from": "${aws_apigatewayv2_route.optimize}",
        "to": '${aws_apigatewayv2_route.authenticated["POST /optimize"]}',
    }


def test_authorization_follows_var_auth(tf: Config) -> None:
    optimize = tf.resource("aws_apigatewayv2_route", "authenticated")
    assert expr(optimize["for_each"]) == "toset(local.authenticated_routes)"
    assert expr(optimize["authorization_type"]) == "local.route_authorization[var.auth]"
    assert tf.locals["route_authorization"] == {"iam": "AWS_IAM", "jwt": "JWT", "none": "NONE"}
    assert expr(optimize["authorizer_id"]) == "one(aws_apigatewayv2_authorizer.this[*].id)"
    authorizer = tf.resource("aws_apigatewayv2_authorizer", "this")
    assert expr(authorizer["count"]) == 'var.auth == "jwt" ? 1 : 0'
    assert authorizer["authorizer_type"] == "JWT"
    assert authorizer["identity_sources"] == ["$request.header.Authorization"]
    assert block(authorizer, "jwt_configuration") == {
        "issuer": "${var.jwt_issuer}",
        "audience": "${var.jwt_audience}",
    }
    (precondition,) = block(authorizer, "lifecycle")["precondition"]
    assert expr(precondition["condition"]) == (
        "var.jwt_issuer != null && length(var.jwt_audience) > 0"
    )
    assert tf.default("jwt_issuer") is None
    assert tf.default("jwt_audience") == []


def test_http_api_and_proxy_integration(tf: Config) -> None:
    assert tf.resource("aws_apigatewayv2_api", "this")["protocol_type"] == "HTTP"
    integration = tf.resource("aws_apigatewayv2_integration", "this")
    assert integration["integration_type"] == "AWS_PROXY"
    assert integration["payload_format_version"] == "2.0"
    assert expr(integration["integration_uri"]) == "aws_lambda_function.this.invoke_arn"
    assert resolve(integration["timeout_milliseconds"], tf) == 29_000


def test_default_stage_auto_deploys_throttles_and_logs(tf: Config) -> None:
    stage = tf.resource("aws_apigatewayv2_stage", "this")
    assert stage["name"] == "$default"
    assert stage["auto_deploy"] is True
    settings = block(stage, "default_route_settings")
    assert expr(settings["throttling_burst_limit"]) == "var.throttling_burst_limit"
    assert expr(settings["throttling_rate_limit"]) == "var.throttling_rate_limit"
    assert tf.default("throttling_burst_limit") > 0
    assert tf.default("throttling_rate_limit") > 0
    access_log = block(stage, "access_log_settings")
    assert expr(access_log["destination_arn"]) == "aws_cloudwatch_log_group.api.arn"
    for field in ("$context.requestId", "$context.routeKey", "$context.status"):
        assert field in access_log["format"]


def test_invoke_permission_is_scoped_to_this_api(tf: Config) -> None:
    permission = tf.resource("aws_lambda_permission", "this")
    assert permission["action"] == "lambda:InvokeFunction"
    assert permission["principal"] == "apigateway.amazonaws.com"
    assert expr(permission["function_name"]) == "aws_lambda_function.this.function_name"
    assert permission["source_arn"] == "${aws_apigatewayv2_api.this.execution_arn}/*/*"


# --- IAM -------------------------------------------------------------------------------------


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(document.get("statement", []))
    for dynamic in document.get("dynamic", []):
        for body in dynamic.values():
            found.extend(body["content"])
    return found


def test_no_wildcard_actions_in_any_allow_statement(tf: Config) -> None:
    documents = {key: body for key, body in tf.data.items() if key[0] == "aws_iam_policy_document"}
    assert len(documents) >= 3
    for key, document in documents.items():
        for statement in statements(document):
            if statement.get("effect", "Allow") != "Allow":
                continue
            assert "not_actions" not in statement, key
            for action in statement["actions"]:
                assert "*" not in action, (key, action)


def test_function_role_may_only_log_trace_and_read_its_parameter(tf: Config) -> None:
    role = tf.resource("aws_iam_role", "this")
    assert expr(role["assume_role_policy"]) == "data.aws_iam_policy_document.assume_role.json"
    (assume,) = statements(tf.data[("aws_iam_policy_document", "assume_role")])
    assert assume["actions"] == ["sts:AssumeRole"]
    assert block(assume, "principals") == {
        "type": "Service",
        "identifiers": ["lambda.amazonaws.com"],
    }
    policy = tf.resource("aws_iam_role_policy", "this")
    assert expr(policy["role"]) == "aws_iam_role.this.id"
    assert expr(policy["policy"]) == "data.aws_iam_policy_document.function.json"
    # The inline policy is the role's only permission: no managed policy attachments.
    attached = [rtype for rtype, _ in tf.resources if "policy_attachment" in rtype]
    assert attached == []

    by_sid = {s["sid"]: s for s in statements(tf.data[("aws_iam_policy_document", "function")])}
    assert set(by_sid) == {"OwnLogs", "Traces", "ReadBatuApiKey", "DecryptBatuApiKey"}
    assert by_sid["OwnLogs"]["actions"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert by_sid["OwnLogs"]["resources"] == [
        "${aws_cloudwatch_log_group.function.arn}",
        "${aws_cloudwatch_log_group.function.arn}:log-stream:*",
    ]
    # X-Ray's write actions accept no resource ARN: "*" here and nowhere else.
    assert by_sid["Traces"]["actions"] == ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    assert by_sid["Traces"]["resources"] == ["*"]
    for sid in ("OwnLogs", "ReadBatuApiKey", "DecryptBatuApiKey"):
        assert "*" not in by_sid[sid]["resources"], sid
    assert by_sid["ReadBatuApiKey"]["actions"] == ["ssm:GetParameter"]
    assert by_sid["ReadBatuApiKey"]["resources"] == ["${local.ssm_parameter_arn}"]
    assert tf.locals["ssm_parameter_arn"].endswith(":parameter${var.batu_api_key_ssm_parameter}")
    assert ":ssm:${var.region}:" in tf.locals["ssm_parameter_arn"]
    decrypt = by_sid["DecryptBatuApiKey"]
    assert decrypt["actions"] == ["kms:Decrypt"]
    assert block(decrypt, "condition") == {
        "test": "StringEquals",
        "variable": "kms:ViaService",
        "values": ["ssm.${var.region}.amazonaws.com"],
    }


# --- secrets, logs, bucket --------------------------------------------------------------------

CREDENTIAL_PATTERNS = [
    r"\b(AKIA|ASIA)[A-Z0-9]{16}\b",  # access key ids
    r"(?i)\b(access_key|secret_key|aws_secret_access_key|session_token|token)\s*=",
    r"(?i)\bBATU_API_KEY\s*=",  # the key itself (only its SSM parameter name is configured)
    r"(?i)\bpassword\s*=",
    r"(?i)\bprofile\s*=",
]


def test_no_credentials_or_secret_values_anywhere_in_terraform() -> None:
    files = [path for path in TERRAFORM.rglob("*") if path.is_file()]
    files = [path for path in files if ".terraform" not in path.parts]
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8")
        for pattern in CREDENTIAL_PATTERNS:
            assert not re.search(pattern, text), (path.name, pattern)


def test_the_batu_key_never_enters_terraform_state(tf: Config) -> None:
    # No resource or data source reads or writes the parameter's value.
    assert [key for key in tf.resources if key[0] == "aws_ssm_parameter"] == []
    assert [key for key in tf.data if key[0] == "aws_ssm_parameter"] == []
    assert not any(
        "key" in name and "ssm" not in name and "kms" not in name for name in tf.variables
    ), sorted(tf.variables)


@pytest.mark.parametrize("name", ["function", "api"])
def test_log_groups_have_retention(tf: Config, name: str) -> None:
    group = tf.resource("aws_cloudwatch_log_group", name)
    assert expr(group["retention_in_days"]) == "var.log_retention_days"
    assert tf.default("log_retention_days") >= 30


def test_function_log_group_is_the_functions(tf: Config) -> None:
    assert tf.resource("aws_cloudwatch_log_group", "function")["name"] == "/aws/lambda/${var.name}"
    assert expr(tf.resource("aws_lambda_function", "this")["function_name"]) == "var.name"


def test_artifact_bucket_is_versioned_encrypted_and_private(tf: Config) -> None:
    bucket_id = "${aws_s3_bucket.this.id}"
    versioning = tf.resource("aws_s3_bucket_versioning", "this")
    assert versioning["bucket"] == bucket_id
    assert block(versioning, "versioning_configuration") == {"status": "Enabled"}
    encryption = tf.resource("aws_s3_bucket_server_side_encryption_configuration", "this")
    assert encryption["bucket"] == bucket_id
    rule = block(encryption, "rule")
    assert block(rule, "apply_server_side_encryption_by_default")["sse_algorithm"] in {
        "aws:kms",
        "AES256",
    }
    public = tf.resource("aws_s3_bucket_public_access_block", "this")
    assert public == {
        "bucket": bucket_id,
        "block_public_acls": True,
        "block_public_policy": True,
        "ignore_public_acls": True,
        "restrict_public_buckets": True,
    }
    obj = tf.resource("aws_s3_object", "this")
    assert obj["bucket"] == bucket_id
    assert expr(obj["source"]) == "local.package_path"
    assert expr(obj["source_hash"]) == "local.package_md5"
    assert expr(tf.locals["package_md5"]) == "try(filemd5(local.package_path), null)"


# --- the time budget ---------------------------------------------------------------------------


def lambda_preconditions(tf: Config) -> set[str]:
    lifecycle = block(tf.resource("aws_lambda_function", "this"), "lifecycle")
    return {expr(p["condition"]) for p in lifecycle["precondition"]}


def test_timeouts_are_layered_each_below_the_one_above(tf: Config) -> None:
    code = PriceSettings()
    # The deployed defaults are the code's defaults (one budget, not two).
    assert tf.default("price_connect_timeout_s") == code.connect_timeout_s
    assert tf.default("price_fetch_timeout_s") == code.read_timeout_s
    assert tf.default("price_fetch_deadline_s") == code.fetch_deadline_s
    assert tf.default("request_deadline_s") == code.request_deadline_s
    assert tf.locals["deadline_margin_s"] == DEADLINE_MARGIN_S

    read_s = tf.default("price_fetch_timeout_s")
    fetch_s = tf.default("price_fetch_deadline_s")
    deadline_s = tf.default("request_deadline_s")
    lambda_s = tf.default("lambda_timeout_s")
    integration_s = tf.locals["integration_timeout_ms"] / 1000

    assert tf.default("price_connect_timeout_s") < read_s < fetch_s <= deadline_s
    assert deadline_s + DEADLINE_MARGIN_S < lambda_s < integration_s
    assert integration_s * 1000 <= HTTP_API_MAX_INTEGRATION_MS
    # The same ordering is enforced at plan time for any -var values ...
    assert {
        "var.price_fetch_timeout_s < var.price_fetch_deadline_s",
        "var.price_fetch_deadline_s <= var.request_deadline_s",
        "var.request_deadline_s + local.deadline_margin_s < var.lambda_timeout_s",
        "(var.request_deadline_s + local.deadline_margin_s) * 1000 < local.integration_timeout_ms",
        "var.lambda_timeout_s * 1000 < local.integration_timeout_ms",
    } <= lambda_preconditions(tf)
    # ... and the timeout variable cannot reach the integration's 29 s.
    assert holds(tf, "lambda_timeout_s", 28)
    assert not holds(tf, "lambda_timeout_s", 29)
    assert not holds(tf, "request_deadline_s", 28)


def test_the_code_refuses_a_fetch_cap_above_the_request_deadline() -> None:
    # what the precondition price_fetch_deadline_s <= request_deadline_s mirrors
    with pytest.raises(ConfigError, match="REQUEST_DEADLINE_S"):
        settings_from_env({"REQUEST_DEADLINE_S": "10", "PRICE_FETCH_DEADLINE_S": "12"})


# --- deployment guards: concurrency, alarms ---------------------------------------------------

_HCL_TO_PYTHON = [("&&", " and "), ("||", " or "), ("!=", " != "), ("null", "None")]


def holds(tf: Config, variable: str, value: Any) -> bool:
    """Whether every validation of ``variable`` accepts ``value``: the conditions of numeric
    variables use only comparisons, arithmetic, ``floor``, ``&&``/``||`` and ``null``, which
    read the same in Python once spelt its way."""
    results = []
    for validation in tf.variables[variable]["validation"]:
        condition = expr(validation["condition"])
        assert re.fullmatch(r"[\w\s.()=!<>&|*+-]+", condition), condition
        for hcl, python in _HCL_TO_PYTHON:
            condition = condition.replace(hcl, python)
        condition = condition.replace(f"var.{variable}", "value")
        results.append(eval(condition, {"floor": math.floor, "None": None}, {"value": value}))
    return all(results)


def test_reserved_concurrency_is_capped_by_default(tf: Config) -> None:
    fn = tf.resource("aws_lambda_function", "this")
    assert expr(fn["reserved_concurrent_executions"]) == "var.reserved_concurrency"
    default = tf.default("reserved_concurrency")
    assert isinstance(default, int)
    assert 1 <= default <= 100
    assert holds(tf, "reserved_concurrency", default)
    assert holds(tf, "reserved_concurrency", -1)  # explicit opt-out for 10-execution accounts
    for invalid in (0, -2, 2.5, 1001):  # 0 would disable the function
        assert not holds(tf, "reserved_concurrency", invalid), invalid


def alarms(tf: Config) -> dict[str, dict[str, Any]]:
    return {name: body for (rtype, name), body in tf.resources.items()
            if rtype == "aws_cloudwatch_metric_alarm"}  # fmt: skip


def test_alarms_on_5xx_throttles_duration_and_errors(tf: Config) -> None:
    table = alarms(tf)
    fn_dimensions = {"FunctionName": "${aws_lambda_function.this.function_name}"}
    expected = {
        "api_5xx": ("AWS/ApiGateway", "5xx", {"ApiId": "${aws_apigatewayv2_api.this.id}"}),
        "throttles": ("AWS/Lambda", "Throttles", fn_dimensions),
        "duration": ("AWS/Lambda", "Duration", fn_dimensions),
        "errors": ("AWS/Lambda", "Errors", fn_dimensions),
    }
    assert set(table) == set(expected)
    for name, (namespace, metric, dimensions) in expected.items():
        alarm = table[name]
        assert (alarm["namespace"], alarm["metric_name"], alarm["dimensions"]) == (
            namespace, metric, dimensions)  # fmt: skip
        assert alarm["comparison_operator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["evaluation_periods"] == 1
        assert resolve(alarm["period"], tf) == 300
        assert alarm["treat_missing_data"] == "notBreaching"
        assert alarm["actions_enabled"] is True
        assert expr(alarm["alarm_actions"]) == "local.alarm_actions"
        assert expr(alarm["ok_actions"]) == "local.alarm_actions"
        assert alarm["alarm_name"].startswith("${var.name}-")
        assert len(alarm["alarm_description"]) > 30
    assert table["api_5xx"]["statistic"] == "Sum"
    assert expr(table["api_5xx"]["threshold"]) == "var.alarm_5xx_per_5_minutes"
    assert tf.default("alarm_5xx_per_5_minutes") >= 1
    assert (table["throttles"]["statistic"], table["throttles"]["threshold"]) == ("Sum", 1)
    assert (table["errors"]["statistic"], table["errors"]["threshold"]) == ("Sum", 1)


def test_the_duration_alarm_sits_between_the_deadline_and_the_timeout(tf: Config) -> None:
    alarm = alarms(tf)["duration"]
    assert alarm["statistic"] == "Maximum"
    assert expr(alarm["threshold"]) == "local.duration_alarm_ms"
    assert expr(tf.locals["duration_alarm_ms"]) == "var.lambda_timeout_s * 900"
    # At the defaults a request that honours its deadline never trips it (20.5 s < 22.5 s).
    deadline_ms = (tf.default("request_deadline_s") + DEADLINE_MARGIN_S) * 1000
    assert deadline_ms < tf.default("lambda_timeout_s") * 900


def test_alarm_notifications_are_optional(tf: Config) -> None:
    assert tf.default("alarm_email") is None
    assert tf.default("alarm_sns_topic_arn") is None
    topic = tf.resource("aws_sns_topic", "this")
    assert expr(topic["count"]) == "var.alarm_email == null ? 0 : 1"
    subscription = tf.resource("aws_sns_topic_subscription", "this")
    assert expr(subscription["count"]) == "var.alarm_email == null ? 0 : 1"
    assert subscription["protocol"] == "email"
    assert expr(subscription["endpoint"]) == "var.alarm_email"
    assert expr(subscription["topic_arn"]) == "aws_sns_topic.this[0].arn"
    assert expr(tf.locals["alarm_actions"]) == (
        "compact(concat(aws_sns_topic.this[*].arn, [var.alarm_sns_topic_arn]))"
    )


# --- CORS ------------------------------------------------------------------------------------

_CORS_REGEX = re.compile(r'can\(regex\("((?:[^"\\]|\\.)*)", origin\)\)')


@pytest.mark.parametrize(
    "origin",
    ["https://dash.example.com", "http://127.0.0.1:8000", "http://[::1]:5000",
     "https://dash.example.com/", "https://dash.example.com/app", "ftp://example.com",
     "example.com", "https://-bad.example.com", "HTTPS://DASH.EXAMPLE.COM",
     "http://127.0.0.1:0", "http://127.0.0.1:70000", "https://dash.example.com:65535"],
)  # fmt: skip
def test_cors_origins_variable_accepts_what_the_app_accepts(tf: Config, origin: str) -> None:
    fn = tf.resource("aws_lambda_function", "this")
    assert "CORS_ORIGINS" in block(fn, "environment")["variables"]
    assert tf.default("cors_origins") == []
    (validation,) = tf.variables["cors_origins"]["validation"]
    (pattern,) = _CORS_REGEX.findall(validation["condition"])
    pattern = pattern.encode().decode("unicode_escape")  # HCL escapes
    terraform_accepts = re.search(pattern, origin) is not None
    try:
        app_accepts = parse_cors_origins(origin) == (origin,)
    except ConfigError:
        app_accepts = False
    assert terraform_accepts == app_accepts
    assert '(origin == "*" && length(var.cors_origins) == 1)' in validation["condition"]


# --- validation regexes (Terraform uses Go's RE2, not Python's re) -----------------------------

REGEX_CALL = re.compile(r'regex\("((?:[^"\\]|\\.)*)", var\.(\w+)\)')


def validation_regexes(tf: Config) -> list[tuple[str, str]]:
    """(variable, pattern) for every ``regex("...", var.x)`` in a validation condition."""
    found = []
    for name, body in tf.variables.items():
        for validation in body.get("validation", []):
            for match in REGEX_CALL.finditer(validation["condition"]):
                pattern = match.group(1).encode().decode("unicode_escape")  # HCL escapes
                assert match.group(2) == name, validation["condition"]
                found.append((name, pattern))
    return found


def test_validation_regexes_are_valid_re2_and_accept_the_defaults(tf: Config) -> None:
    patterns = validation_regexes(tf)
    assert {name for name, _ in patterns} >= {"region", "name", "batu_api_key_ssm_parameter"}
    for name, pattern in patterns:
        compiled = re.compile(pattern)
        # RE2 rejects counted repetitions above 1000 (the pattern would never match: can()
        # turns the error into false and the variable could never validate).
        for bound in re.findall(r"\{(\d+)(?:,(\d*))?\}", pattern):
            assert all(int(n) <= 1000 for n in bound if n), (name, pattern)
        # No look-arounds or backreferences: RE2 has neither.
        assert not re.search(r"\(\?[=!<]|\\[1-9]", pattern), (name, pattern)
        default = tf.default(name)
        if default is not None:
            assert compiled.search(default), (name, pattern, default)


def test_longest_name_still_fits_the_bucket_prefix_limit(tf: Config) -> None:
    (pattern,) = [p for name, p in validation_regexes(tf) if name == "name"]
    match = re.fullmatch(r"\^\[a-z\]\[a-z0-9-\]\{2,(\d+)\}\$", pattern)
    assert match, pattern
    longest = 1 + int(match.group(1))
    prefix = tf.resource("aws_s3_bucket", "this")["bucket_prefix"]
    assert prefix == "${var.name}-artifacts-"
    # S3 bucket names have at most 63 characters; Terraform appends 26 to a bucket_prefix.
    assert longest + len("-artifacts-") <= 63 - 26


@pytest.mark.parametrize(
    ("variable", "value", "valid"),
    [
        ("batu_api_key_ssm_parameter", "/prod/batu/api-key_v2.1", True),
        ("batu_api_key_ssm_parameter", "batu-api-key", False),
        ("batu_api_key_ssm_parameter", "/has space", False),
        ("region", "mx-central-1", True),
        ("region", "us-gov-west-1", True),
        ("region", "mexico", False),
        ("name", "battery-arbitrage-dev", True),
        ("name", "Battery_Arbitrage", False),
        ("jwt_issuer", "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC", True),
        ("jwt_issuer", "http://issuer.example", False),
    ],
    ids=lambda v: str(v),
)
def test_validation_regexes_sort_values(tf: Config, variable: str, value: str, valid: bool) -> None:
    (pattern,) = [p for name, p in validation_regexes(tf) if name == variable]
    assert bool(re.search(pattern, value)) is valid


_URL_REGEX = re.compile(r'can\(regex\("((?:[^"\\]|\\.)*)", var\.(\w+)\)\)')


@pytest.mark.parametrize("variable", ["batu_api_url", "cenace_base_url"])
@pytest.mark.parametrize(
    "url",
    ["https://api.batuenergy.com", "https://ws01.cenace.gob.mx:8082", "https://batu.example/v1/",
     "https://batu.example:443/a/b", "http://api.batuenergy.com", "api.batuenergy.com",
     "https://", "https://batu.example/?key=1", "https://batu.example/#top",
     "https://batu.example/a b", "https://batu.example:port", "ftp://batu.example",
     "https://batu.example:0", "https://batu.example:99999", "https://batu.example:65535",
     "https://batu.example:65536", "https://batu.example:8082/v1"],
)  # fmt: skip
def test_base_url_variables_accept_only_what_the_app_starts_with(
    tf: Config, variable: str, url: str
) -> None:
    """A URL Terraform lets through must start the app (``prices.settings`` checks it at
    start-up, naming the variable), or a deploy would succeed and every cold start fail."""
    (validation,) = tf.variables[variable]["validation"]
    (pattern,) = [p for p, name in _URL_REGEX.findall(validation["condition"]) if name == variable]
    pattern = pattern.encode().decode("unicode_escape")  # HCL escapes
    terraform_accepts = re.search(pattern, url) is not None
    key = variable.upper()
    try:
        PriceSettings.from_env({key: url})
        app_accepts = True
    except ConfigError:
        app_accepts = False
    assert not terraform_accepts or app_accepts
    assert terraform_accepts == (app_accepts and url.startswith("https://"))
