# HTTP API (payload 2.0) in front of the function. The POST routes are authenticated per
# var.auth; the read-only GET routes (API and dashboard) are public. Routes not listed here
# answer 404 from API Gateway.

resource "aws_apigatewayv2_api" "this" {
  name          = var.name
  description   = "Battery arbitrage optimizer."
  protocol_type = "HTTP"
}

resource "aws_apigatewayv2_integration" "this" {
  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = aws_lambda_function.this.invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = local.integration_timeout_ms
}

resource "aws_apigatewayv2_authorizer" "this" {
  count = var.auth == "jwt" ? 1 : 0

  api_id           = aws_apigatewayv2_api.this.id
  name             = "${var.name}-jwt"
  authorizer_type  = "JWT"
  identity_sources = ["$request.header.Authorization"]

  jwt_configuration {
    issuer   = var.jwt_issuer
    audience = var.jwt_audience
  }

  lifecycle {
    precondition {
      condition     = var.jwt_issuer != null && length(var.jwt_audience) > 0
      error_message = "auth = \"jwt\" needs jwt_issuer and at least one jwt_audience."
    }
  }
}

resource "aws_apigatewayv2_route" "authenticated" {
  for_each = toset(local.authenticated_routes)

  api_id             = aws_apigatewayv2_api.this.id
  route_key          = each.value
  target             = "integrations/${aws_apigatewayv2_integration.this.id}"
  authorization_type = local.route_authorization[var.auth]
  authorizer_id      = one(aws_apigatewayv2_authorizer.this[*].id)
}

# Earlier versions had POST /optimize as a single resource: keep it in place, not replaced.
moved {
  from = aws_apigatewayv2_route.optimize
  to   = aws_apigatewayv2_route.authenticated["POST /optimize"]
}

resource "aws_apigatewayv2_route" "public" {
  #checkov:skip=CKV_AWS_309:Read-only routes (liveness, strategies, zones, OpenAPI document, dashboard page, its static files, API docs) and CORS preflights are public by design (SPEC sections 6 and 12); they call no upstream and are throttled by the stage.
  for_each = toset(local.public_routes)

  api_id             = aws_apigatewayv2_api.this.id
  route_key          = each.value
  target             = "integrations/${aws_apigatewayv2_integration.this.id}"
  authorization_type = "NONE"
}

resource "aws_apigatewayv2_stage" "this" {
  # $default: a named stage would put its name in the path and break the app's routing.
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_burst_limit   = var.throttling_burst_limit
    throttling_rate_limit    = var.throttling_rate_limit
    detailed_metrics_enabled = true
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api.arn
    format = jsonencode({
      requestId          = "$context.requestId"
      requestTime        = "$context.requestTime"
      ip                 = "$context.identity.sourceIp"
      caller             = "$context.identity.caller"
      userArn            = "$context.identity.userArn"
      jwtSub             = "$context.authorizer.claims.sub"
      httpMethod         = "$context.httpMethod"
      routeKey           = "$context.routeKey"
      path               = "$context.path"
      status             = "$context.status"
      protocol           = "$context.protocol"
      responseLength     = "$context.responseLength"
      responseLatency    = "$context.responseLatency"
      integrationLatency = "$context.integrationLatency"
      integrationStatus  = "$context.integrationStatus"
      integrationError   = "$context.integrationErrorMessage"
      authorizerError    = "$context.authorizer.error"
    })
  }
}

resource "aws_lambda_permission" "this" {
  statement_id  = "AllowInvokeFromHttpApi"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  principal     = "apigateway.amazonaws.com"
  # This API only (any stage, method and route of it).
  source_arn = "${aws_apigatewayv2_api.this.execution_arn}/*/*"
}
