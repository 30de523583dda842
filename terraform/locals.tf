locals {
  package_path  = coalesce(var.package_path, "${path.module}/../dist/lambda.zip")
  manifest_path = "${local.package_path}.json"
  # Written by scripts/package_lambda.py next to the zip: what the package was built for.
  # try(): `terraform destroy` must work without a package; apply checks preconditions.
  package_manifest = try(jsondecode(file(local.manifest_path)), {})
  package_built    = fileexists(local.package_path) && can(local.package_manifest.architecture)
  package_md5      = try(filemd5(local.package_path), null)
  package_sha256   = try(filebase64sha256(local.package_path), null)

  runtime = "python3.13"

  # The time budget, outermost last (README "Time budget"; tests/test_terraform.py checks it
  # against the code): fetch cap <= request deadline; deadline + margin < Lambda timeout <
  # integration. The margin is the 0.5 s the app may take to answer 503/504 after the
  # deadline (SPEC section 13).
  deadline_margin_s      = 0.5
  integration_timeout_ms = 29000
  # Alarms (alarms.tf): 5-minute windows; the duration alarm fires at 90 % of the timeout.
  alarm_period_s    = 300
  duration_alarm_ms = var.lambda_timeout_s * 900
  alarm_actions     = compact(concat(aws_sns_topic.this[*].arn, [var.alarm_sns_topic_arn]))

  ssm_parameter_arn = "arn:${data.aws_partition.current.partition}:ssm:${var.region}:${data.aws_caller_identity.current.account_id}:parameter${var.batu_api_key_ssm_parameter}"

  route_authorization = {
    iam  = "AWS_IAM"
    jwt  = "JWT"
    none = "NONE"
  }

  # Routes that compute on the caller's behalf: authenticated per var.auth.
  authenticated_routes = ["POST /optimize", "POST /sizing", "POST /siting"]

  # Public by design (SPEC sections 6 and 12): read-only API routes, the dashboard, its static
  # files and the API reference; with CORS, the preflights (browsers send them without
  # credentials, so they cannot be authenticated).
  public_api_routes = ["GET /health", "GET /strategies", "GET /openapi.json", "GET /zones"]
  dashboard_routes  = ["GET /", "GET /static/{proxy+}", "GET /docs"]
  preflight_routes  = ["OPTIONS /{proxy+}"]
  public_routes     = concat(local.public_api_routes, local.dashboard_routes, length(var.cors_origins) > 0 ? local.preflight_routes : [])
}
