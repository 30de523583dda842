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

  # The time budget, outermost last (README "Timeouts"; tests/test_terraform.py checks it
  # against the code): price fetch deadline + solver limit < Lambda timeout < integration.
  # Mirrors SOLVER_TIME_LIMIT_S in optimizer/strategies/optimal.py.
  solver_time_limit_s    = 5
  integration_timeout_ms = 29000

  ssm_parameter_arn = "arn:${data.aws_partition.current.partition}:ssm:${var.region}:${data.aws_caller_identity.current.account_id}:parameter${var.batu_api_key_ssm_parameter}"

  route_authorization = {
    iam  = "AWS_IAM"
    jwt  = "JWT"
    none = "NONE"
  }

  # Read-only routes, public by design; POST /optimize is authenticated per var.auth.
  public_routes = ["GET /health", "GET /strategies", "GET /openapi.json"]
}
