# Artifact bucket for the Lambda package (numpy + scipy are too close to the 50 MB limit of a
# direct upload). It holds only build output that `make package` reproduces, so destroy may
# empty it (force_destroy).

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18:Artifact bucket written only by terraform apply; CloudTrail records its API calls, server access logs would need a second bucket for no extra insight.
  #checkov:skip=CKV_AWS_144:The only object is a build artefact reproducible from the repository; cross-region replication protects nothing.
  #checkov:skip=CKV2_AWS_62:No consumer reacts to uploads; Lambda is updated by terraform from the object version.
  bucket_prefix = "${var.name}-artifacts-"
  force_destroy = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    # aws:kms without a key id is the AWS-managed aws/s3 key.
    apply_server_side_encryption_by_default {
      sse_algorithm = "aws:kms"
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "expire-old-packages"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = 30
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

data "aws_iam_policy_document" "bucket" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.this.arn,
      "${aws_s3_bucket.this.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.bucket.json

  depends_on = [aws_s3_bucket_public_access_block.this]
}

resource "aws_s3_object" "this" {
  bucket = aws_s3_bucket.this.id
  key    = "lambda/${var.name}.zip"
  source = local.package_path
  # source_hash, not etag: with SSE-KMS the ETag is not the file's MD5.
  source_hash = local.package_md5

  lifecycle {
    precondition {
      condition     = local.package_built
      error_message = "No Lambda package at ${local.package_path} (or its .json manifest): run `make package` first."
    }
  }

  depends_on = [
    aws_s3_bucket_versioning.this,
    aws_s3_bucket_server_side_encryption_configuration.this,
    aws_s3_bucket_policy.this,
  ]
}
