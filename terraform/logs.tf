# Log groups are created here (not implicitly by Lambda/API Gateway) so retention is set and
# the function's role can be scoped to its own group.

resource "aws_cloudwatch_log_group" "function" {
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts at rest with service keys; the app never logs request bodies or secrets, so a customer-managed key adds a key policy and cost without protecting anything.
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.log_retention_days
}

resource "aws_cloudwatch_log_group" "api" {
  #checkov:skip=CKV_AWS_158:Access logs hold request metadata only (no bodies, no credentials); service-key encryption at rest is sufficient.
  name              = "/aws/apigateway/${var.name}"
  retention_in_days = var.log_retention_days
}
