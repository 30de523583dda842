# The function's role: its own log group, X-Ray traces, and the one SSM parameter holding the
# Batu API key. Nothing else.

data "aws_iam_policy_document" "assume_role" {
  statement {
    sid     = "LambdaAssumeRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "${var.name}-function"
  description        = "Execution role of the ${var.name} Lambda function."
  assume_role_policy = data.aws_iam_policy_document.assume_role.json
}

data "aws_iam_policy_document" "function" {
  statement {
    sid     = "OwnLogs"
    actions = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [
      aws_cloudwatch_log_group.function.arn,
      "${aws_cloudwatch_log_group.function.arn}:log-stream:*",
    ]
  }

  statement {
    # X-Ray's trace-writing actions support no resource-level permissions: "*" is the only
    # valid resource (the actions themselves are named, never wildcarded).
    sid       = "Traces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }

  statement {
    sid       = "ReadBatuApiKey"
    actions   = ["ssm:GetParameter"]
    resources = [local.ssm_parameter_arn]
  }

  dynamic "statement" {
    # Only for a customer-managed key; the AWS-managed aws/ssm key's policy already allows
    # decryption through SSM for principals of the account.
    for_each = var.batu_api_key_kms_key_arn == null ? [] : [var.batu_api_key_kms_key_arn]

    content {
      sid       = "DecryptBatuApiKey"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["ssm.${var.region}.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "${var.name}-function"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.function.json
}
