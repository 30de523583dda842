resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously by API Gateway only; a dead-letter queue applies to asynchronous invocations.
  #checkov:skip=CKV_AWS_117:The function reaches only public HTTPS APIs (Batu, CENACE) and AWS endpoints; a VPC would need a NAT gateway and protects no private resource.
  #checkov:skip=CKV_AWS_173:The environment holds no secret (the Batu key is read from SSM at run time); the default AWS-managed key encrypts it at rest.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile outside this stack; the artefact's integrity is pinned by source_code_hash and the S3 object version.
  function_name = var.name
  description   = "Battery arbitrage optimizer (Flask app behind API Gateway via apig-wsgi)."
  role          = aws_iam_role.this.arn
  handler       = "app.lambda_handler"
  runtime       = local.runtime
  architectures = [var.architecture]
  memory_size   = var.memory_size_mb
  timeout       = var.lambda_timeout_s

  reserved_concurrent_executions = var.reserved_concurrency

  s3_bucket         = aws_s3_object.this.bucket
  s3_key            = aws_s3_object.this.key
  s3_object_version = aws_s3_object.this.version_id
  source_code_hash  = local.package_sha256

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.function.name
    application_log_level = var.log_level == "WARNING" ? "WARN" : var.log_level
    system_log_level      = "WARN"
  }

  environment {
    # Read by app.settings_from_env and prices.settings.PriceSettings.from_env.
    # No secret here: only the name of the SSM parameter holding the Batu key.
    variables = {
      LOG_LEVEL                  = var.log_level
      PRICE_SOURCE               = var.price_source
      BATU_API_URL               = var.batu_api_url
      BATU_API_KEY_SSM_PARAMETER = var.batu_api_key_ssm_parameter
      CENACE_BASE_URL            = var.cenace_base_url
      PRICE_CONNECT_TIMEOUT_S    = var.price_connect_timeout_s
      PRICE_FETCH_TIMEOUT_S      = var.price_fetch_timeout_s
      PRICE_FETCH_DEADLINE_S     = var.price_fetch_deadline_s
      PRICE_CACHE_MAX_DAYS       = var.price_cache_max_days
      PRICE_MAX_RESPONSE_BYTES   = var.price_max_response_bytes
      FORECAST_HISTORY_DAYS      = var.forecast_history_days
      REQUEST_DEADLINE_S         = var.request_deadline_s
      CORS_ORIGINS               = join(",", var.cors_origins)
      # The authentication API Gateway applies; the OpenAPI document declares it.
      API_AUTH = var.auth
    }
  }

  lifecycle {
    precondition {
      condition     = try(local.package_manifest.architecture, null) == var.architecture
      error_message = "The package was built for another architecture than var.architecture: rebuild with `make package ARCH=${var.architecture}` or set architecture to match."
    }

    precondition {
      condition     = try(local.package_manifest.python_version, null) == trimprefix(local.runtime, "python")
      error_message = "The package was not built for ${local.runtime}: rebuild it with `make package` (not the --local test build)."
    }

    precondition {
      condition     = var.price_fetch_timeout_s < var.price_fetch_deadline_s
      error_message = "price_fetch_timeout_s must be below price_fetch_deadline_s."
    }

    precondition {
      condition     = var.price_fetch_deadline_s <= var.request_deadline_s
      error_message = "price_fetch_deadline_s must not exceed request_deadline_s (the fetch is part of the request)."
    }

    precondition {
      condition     = var.request_deadline_s + local.deadline_margin_s < var.lambda_timeout_s
      error_message = "request_deadline_s plus the ${local.deadline_margin_s} s the app needs to answer after it must stay below lambda_timeout_s."
    }

    precondition {
      condition     = (var.request_deadline_s + local.deadline_margin_s) * 1000 < local.integration_timeout_ms
      error_message = "request_deadline_s plus ${local.deadline_margin_s} s must stay below the API integration timeout (${local.integration_timeout_ms} ms)."
    }

    precondition {
      condition     = var.lambda_timeout_s * 1000 < local.integration_timeout_ms
      error_message = "lambda_timeout_s must stay below the API integration timeout (${local.integration_timeout_ms} ms)."
    }
  }

  depends_on = [
    aws_iam_role_policy.this,
    aws_cloudwatch_log_group.function,
  ]
}
