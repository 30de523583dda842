output "api_endpoint" {
  description = "Base URL of the deployed API ($default stage: no stage name in the path)."
  value       = aws_apigatewayv2_stage.this.invoke_url
}

output "optimize_url" {
  description = "URL of POST /optimize."
  value       = "${trimsuffix(aws_apigatewayv2_stage.this.invoke_url, "/")}/optimize"
}

output "auth" {
  description = "Authentication required on the POST routes (iam = SigV4, jwt = bearer token, none = public)."
  value       = var.auth
}

output "api_id" {
  description = "Id of the HTTP API."
  value       = aws_apigatewayv2_api.this.id
}

output "function_name" {
  description = "Name of the Lambda function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the Lambda function."
  value       = aws_lambda_function.this.arn
}

output "artifact_bucket" {
  description = "S3 bucket holding the Lambda package."
  value       = aws_s3_bucket.this.id
}

output "function_log_group" {
  description = "CloudWatch log group of the function (JSON lines)."
  value       = aws_cloudwatch_log_group.function.name
}

output "api_log_group" {
  description = "CloudWatch log group of the API's access logs."
  value       = aws_cloudwatch_log_group.api.name
}

output "batu_api_key_ssm_parameter" {
  description = "Name of the SSM SecureString parameter the function reads the Batu API key from."
  value       = var.batu_api_key_ssm_parameter
}

output "alarm_topic_arn" {
  description = "SNS topic created for the alarms when alarm_email is set (confirm the e-mail subscription), else null."
  value       = one(aws_sns_topic.this[*].arn)
}

output "alarm_names" {
  description = "Names of the CloudWatch alarms (5xx, throttles, duration near the timeout, function errors)."
  value = [
    aws_cloudwatch_metric_alarm.api_5xx.alarm_name,
    aws_cloudwatch_metric_alarm.throttles.alarm_name,
    aws_cloudwatch_metric_alarm.duration.alarm_name,
    aws_cloudwatch_metric_alarm.errors.alarm_name,
  ]
}

output "authenticated_execute_api_arns" {
  description = "ARNs to allow in a caller's IAM policy (execute-api:Invoke) when auth = iam: one per authenticated route."
  value       = [for route in local.authenticated_routes : "${aws_apigatewayv2_api.this.execution_arn}/$default/${replace(route, " /", "/")}"]
}

output "optimize_execute_api_arn" {
  description = "ARN to allow in a caller's IAM policy (execute-api:Invoke) when auth = iam."
  value       = "${aws_apigatewayv2_api.this.execution_arn}/$default/POST/optimize"
}
