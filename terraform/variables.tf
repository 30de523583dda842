# Every input of the deployment. Defaults give a working, authenticated (SigV4) deployment that
# serves synthetic prices; set price_source = "batu" once the key is in SSM (see README).

variable "region" {
  description = "AWS region to deploy into."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region code such as us-east-1 or mx-central-1."
  }
}

variable "name" {
  description = "Name of the Lambda function and prefix of every other resource name."
  type        = string
  default     = "battery-arbitrage"

  validation {
    # 26 at most: the artifact bucket's generated name is "<name>-artifacts-" + 26 characters.
    condition     = can(regex("^[a-z][a-z0-9-]{2,25}$", var.name))
    error_message = "name must be 3-26 characters: lower-case letters, digits and hyphens, starting with a letter."
  }
}

variable "tags" {
  description = "Extra tags applied to every resource (merged into the provider's default tags)."
  type        = map(string)
  default     = {}
}

variable "package_path" {
  description = "Path of the Lambda zip built by `make package`; null means ../dist/lambda.zip next to this directory."
  type        = string
  default     = null

  validation {
    condition     = var.package_path == null || can(regex("\\.zip$", var.package_path))
    error_message = "package_path must name a .zip file."
  }
}

variable "architecture" {
  description = "Lambda instruction set; must match the package (`make package` builds arm64 unless ARCH=x86_64)."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "memory_size_mb" {
  description = "Lambda memory in MB. CPU grows with it: 1769 MB is one full vCPU, which the single-threaded, CPU-bound optimizer uses whole (its slowest benchmark families take up to ~10 s of CPU, one family 23 s, past the request deadline, and some valid requests minutes); below that a request gets a share of one and takes longer. A 366-day request peaks near 300 MB."
  type        = number
  default     = 1769

  validation {
    condition     = var.memory_size_mb >= 512 && var.memory_size_mb <= 10240 && floor(var.memory_size_mb) == var.memory_size_mb
    error_message = "memory_size_mb must be a whole number from 512 to 10240."
  }
}

variable "lambda_timeout_s" {
  description = "Lambda timeout in seconds; must exceed request_deadline_s by more than 0.5 s and stay below the 29 s API integration timeout."
  type        = number
  default     = 25

  validation {
    condition     = var.lambda_timeout_s >= 1 && var.lambda_timeout_s <= 28 && floor(var.lambda_timeout_s) == var.lambda_timeout_s
    error_message = "lambda_timeout_s must be a whole number from 1 to 28 (API Gateway gives up at 29 s)."
  }
}

variable "request_deadline_s" {
  description = "REQUEST_DEADLINE_S: one deadline per request, shared by the price fetch and the optimisation; past it the app answers 504 or 503 within 0.5 s, so it must stay more than 0.5 s below lambda_timeout_s."
  type        = number
  default     = 20

  validation {
    condition     = var.request_deadline_s >= 1 && var.request_deadline_s <= 27
    error_message = "request_deadline_s must be from 1 to 27 seconds (below the Lambda timeout, itself below API Gateway's 29 s)."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions of the function: a hard cap on parallel requests, hence on cost and upstream load (excess calls are throttled). -1 removes the cap; only accounts whose concurrency quota is 10 (new accounts), which cannot reserve any, need it."
  type        = number
  default     = 10

  validation {
    condition     = (var.reserved_concurrency == -1 || var.reserved_concurrency >= 1) && var.reserved_concurrency <= 1000 && floor(var.reserved_concurrency) == var.reserved_concurrency
    error_message = "reserved_concurrency must be a whole number from 1 to 1000 (0 would disable the function), or -1 for no cap."
  }
}

variable "auth" {
  description = "Authentication on POST /optimize, /sizing and /siting: iam (SigV4-signed calls), jwt (OIDC tokens, needs jwt_issuer and jwt_audience) or none (public; explicit opt-in). The GET routes are always public."
  type        = string
  default     = "iam"

  validation {
    condition     = contains(["iam", "jwt", "none"], var.auth)
    error_message = "auth must be one of iam, jwt, none."
  }
}

variable "jwt_issuer" {
  description = "Issuer URL of the OIDC provider when auth = jwt (e.g. https://cognito-idp.REGION.amazonaws.com/POOL_ID)."
  type        = string
  default     = null

  validation {
    condition     = var.jwt_issuer == null || can(regex("^https://[^\\s]+$", var.jwt_issuer))
    error_message = "jwt_issuer must be an https:// URL."
  }
}

variable "jwt_audience" {
  description = "Accepted JWT audiences (aud claim; for Cognito, the app client ids) when auth = jwt."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for audience in var.jwt_audience : length(trimspace(audience)) > 0])
    error_message = "jwt_audience entries must not be empty."
  }
}

variable "throttling_burst_limit" {
  description = "API stage throttling: burst (token-bucket size) for every route."
  type        = number
  default     = 20

  validation {
    condition     = var.throttling_burst_limit >= 1 && var.throttling_burst_limit <= 5000 && floor(var.throttling_burst_limit) == var.throttling_burst_limit
    error_message = "throttling_burst_limit must be a whole number from 1 to 5000."
  }
}

variable "throttling_rate_limit" {
  description = "API stage throttling: steady-state requests per second for every route."
  type        = number
  default     = 10

  validation {
    condition     = var.throttling_rate_limit > 0 && var.throttling_rate_limit <= 10000
    error_message = "throttling_rate_limit must be greater than 0 and at most 10000."
  }
}

variable "log_retention_days" {
  description = "Retention of the function's and the API's CloudWatch log groups, in days."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653)."
  }
}

variable "log_level" {
  description = "LOG_LEVEL of the app, also Lambda's application log-level filter (WARNING is Lambda's WARN)."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be one of DEBUG, INFO, WARNING, ERROR."
  }
}

# --- price source (environment of the function; see prices/settings.py) ---------------------

variable "price_source" {
  description = "PRICE_SOURCE: batu (production; needs the key in SSM), cenace (public, slow, may refuse data-centre addresses) or synthetic (offline demo)."
  type        = string
  default     = "synthetic"

  validation {
    condition     = contains(["batu", "cenace", "synthetic"], var.price_source)
    error_message = "price_source must be one of batu, cenace, synthetic."
  }
}

variable "batu_api_url" {
  description = "BATU_API_URL: base URL of the Batu Energy API."
  type        = string
  default     = "https://api.batuenergy.com"

  validation {
    condition     = can(regex("^https://[A-Za-z0-9.-]+(:([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?(/[^\\s?#]*)?$", var.batu_api_url))
    error_message = "batu_api_url must be an https:// URL: a host, an optional port (1-65535) and path, no query or fragment."
  }
}

variable "batu_api_key_ssm_parameter" {
  description = "BATU_API_KEY_SSM_PARAMETER: name of the SecureString SSM parameter holding the Batu API key (created outside Terraform so the key never enters the state)."
  type        = string
  default     = "/battery-arbitrage/batu-api-key"

  validation {
    condition     = can(regex("^/[A-Za-z0-9_./-]+$", var.batu_api_key_ssm_parameter)) && length(var.batu_api_key_ssm_parameter) <= 1011
    error_message = "batu_api_key_ssm_parameter must be a hierarchical parameter name starting with / (letters, digits, _ . - /)."
  }
}

variable "batu_api_key_kms_key_arn" {
  description = "ARN of the customer-managed KMS key encrypting the SSM parameter; null when it uses the AWS-managed aws/ssm key (whose key policy already lets the role decrypt through SSM)."
  type        = string
  default     = null

  validation {
    condition     = var.batu_api_key_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]+$", var.batu_api_key_kms_key_arn))
    error_message = "batu_api_key_kms_key_arn must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)."
  }
}

variable "cenace_base_url" {
  description = "CENACE_BASE_URL: base URL of CENACE's public web services."
  type        = string
  default     = "https://ws01.cenace.gob.mx:8082"

  validation {
    condition     = can(regex("^https://[A-Za-z0-9.-]+(:([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?(/[^\\s?#]*)?$", var.cenace_base_url))
    error_message = "cenace_base_url must be an https:// URL: a host, an optional port (1-65535) and path, no query or fragment."
  }
}

variable "price_connect_timeout_s" {
  description = "PRICE_CONNECT_TIMEOUT_S: TCP/TLS connect timeout of each upstream call, in seconds."
  type        = number
  default     = 3.05

  validation {
    condition     = var.price_connect_timeout_s > 0 && var.price_connect_timeout_s <= 10
    error_message = "price_connect_timeout_s must be greater than 0 and at most 10."
  }
}

variable "price_fetch_timeout_s" {
  description = "PRICE_FETCH_TIMEOUT_S: read timeout of each upstream call, in seconds (below price_fetch_deadline_s)."
  type        = number
  default     = 10

  validation {
    condition     = var.price_fetch_timeout_s > 0 && var.price_fetch_timeout_s <= 20
    error_message = "price_fetch_timeout_s must be greater than 0 and at most 20."
  }
}

variable "price_fetch_deadline_s" {
  description = "PRICE_FETCH_DEADLINE_S: cap on one request's whole price fetch (all chunks and retries), in seconds; at most request_deadline_s, so that time is left to compute after a slow upstream."
  type        = number
  default     = 15

  validation {
    condition     = var.price_fetch_deadline_s > 0 && var.price_fetch_deadline_s <= 27
    error_message = "price_fetch_deadline_s must be greater than 0 and at most 27."
  }
}

variable "price_cache_max_days" {
  description = "PRICE_CACHE_MAX_DAYS: zone-days of prices kept in a warm function's memory (0 disables the cache)."
  type        = number
  default     = 20000

  validation {
    condition     = var.price_cache_max_days >= 0 && var.price_cache_max_days <= 1000000 && floor(var.price_cache_max_days) == var.price_cache_max_days
    error_message = "price_cache_max_days must be a whole number from 0 to 1000000."
  }
}

variable "price_max_response_bytes" {
  description = "PRICE_MAX_RESPONSE_BYTES: cap on one upstream answer, counted after decompression (a larger answer is a 502)."
  type        = number
  default     = 20000000

  validation {
    condition     = var.price_max_response_bytes >= 65536 && var.price_max_response_bytes <= 200000000 && floor(var.price_max_response_bytes) == var.price_max_response_bytes
    error_message = "price_max_response_bytes must be a whole number from 65536 to 200000000 (the function's memory bounds it)."
  }
}

variable "forecast_history_days" {
  description = "FORECAST_HISTORY_DAYS: days before start_date fetched (best effort) so that the forecast and learned strategies can schedule the first requested day."
  type        = number
  default     = 56

  validation {
    condition     = var.forecast_history_days >= 0 && var.forecast_history_days <= 366 && floor(var.forecast_history_days) == var.forecast_history_days
    error_message = "forecast_history_days must be a whole number from 0 to 366."
  }
}

# --- browsers ----------------------------------------------------------------------------------

variable "cors_origins" {
  description = "CORS_ORIGINS: origins (scheme://host[:port], no path) whose pages may call the API from a browser, or [\"*\"]; empty (default) means no CORS. When set, API Gateway also routes OPTIONS preflights (unauthenticated) to the function."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for origin in var.cors_origins : (origin == "*" && length(var.cors_origins) == 1) || can(regex("^https?://([a-z0-9]([a-z0-9.-]*[a-z0-9])?|\\[[0-9a-f:.]+\\])(:([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?$", origin))])
    error_message = "cors_origins must be lower-case origins such as https://dash.example.com (no path, no trailing slash), or [\"*\"] alone."
  }
}

# --- alarms (alarms.tf) --------------------------------------------------------------------------

variable "alarm_email" {
  description = "E-mail address subscribed to a new SNS topic that receives every alarm (the address must confirm the subscription); null creates no topic."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alarm_email))
    error_message = "alarm_email must be an e-mail address."
  }
}

variable "alarm_sns_topic_arn" {
  description = "ARN of an existing SNS topic (e.g. your on-call topic) that also receives every alarm; null for none."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_sns_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_.-]+$", var.alarm_sns_topic_arn))
    error_message = "alarm_sns_topic_arn must be an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)."
  }
}

variable "alarm_5xx_per_5_minutes" {
  description = "The 5xx alarm fires when the API answers at least this many 5xx responses (the app's 500, 502, 503, 504 and API Gateway's own) within 5 minutes."
  type        = number
  default     = 5

  validation {
    condition     = var.alarm_5xx_per_5_minutes >= 1 && floor(var.alarm_5xx_per_5_minutes) == var.alarm_5xx_per_5_minutes
    error_message = "alarm_5xx_per_5_minutes must be a whole number of at least 1."
  }
}
