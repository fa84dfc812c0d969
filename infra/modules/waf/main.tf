# A regional web ACL in front of the service. Rules are evaluated in order:
#   0. with var.host set, requests for any other host pass untouched: ECS
#      Express Mode shares its load balancer among the Express services of
#      a VPC, and this web ACL must not judge (or log) the others' traffic;
#   1. a rate limit per client IP;
#   2. no request bodies: the service takes none, and its HTTP library is
#      fragile with them (vendor/tiny_http/PATCHES.md);
#   3. AWS's common rule set, with the 2 KiB query-string limit counted only,
#      since the service enforces its own limit (MAX_URL_BYTES, 414);
#   4. AWS's known-bad-inputs rule set (Log4Shell and the like).
# Every request for the service is logged to CloudWatch Logs.

data "aws_caller_identity" "current" {}

locals {
  # Rule names double as CloudWatch metric names.
  metric_prefix = replace(var.name, "-", "_")
  # The service's host as a client may spell it in the Host header (WAF
  # sees HTTP/2's :authority there): any case, a trailing dot, a port. Rule
  # 0 lets every other host pass unjudged, so a spelling it missed that the
  # load balancer still routes here would skip every rule.
  hosts = var.host == null ? [] : ["^${replace(lower(var.host), ".", "\\.")}\\.?(:[0-9]+)?$"]
  # WAF prefixes a rule's labels with the web ACL's namespace.
  other_host_label = "awswaf:${data.aws_caller_identity.current.account_id}:webacl:${var.name}:other-host"
}

resource "aws_wafv2_web_acl" "this" {
  name        = var.name
  description = "Rate limit, no bodies, AWS common and known-bad-inputs rules."
  scope       = "REGIONAL"

  default_action {
    allow {}
  }

  dynamic "rule" {
    for_each = local.hosts

    content {
      name     = "other-hosts-pass"
      priority = 0

      action {
        allow {}
      }

      statement {
        not_statement {
          statement {
            regex_match_statement {
              regex_string = rule.value

              field_to_match {
                single_header {
                  name = "host"
                }
              }

              text_transformation {
                priority = 0
                type     = "LOWERCASE"
              }
            }
          }
        }
      }

      rule_label {
        name = "other-host"
      }

      visibility_config {
        cloudwatch_metrics_enabled = true
        metric_name                = "${local.metric_prefix}_other_hosts_pass"
        sampled_requests_enabled   = false
      }
    }
  }

  rule {
    name     = "rate-limit-per-ip"
    priority = 1

    action {
      block {}
    }

    statement {
      rate_based_statement {
        limit                 = var.rate_limit_per_ip
        evaluation_window_sec = 300
        aggregate_key_type    = "IP"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${local.metric_prefix}_rate_limit_per_ip"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "block-request-bodies"
    priority = 2

    action {
      block {}
    }

    statement {
      or_statement {
        # A Content-Length header with any character but 0 in it.
        statement {
          regex_match_statement {
            regex_string = "[^0]"

            field_to_match {
              single_header {
                name = "content-length"
              }
            }

            text_transformation {
              priority = 0
              type     = "NONE"
            }
          }
        }

        # Any Transfer-Encoding header.
        statement {
          size_constraint_statement {
            comparison_operator = "GT"
            size                = 0

            field_to_match {
              single_header {
                name = "transfer-encoding"
              }
            }

            text_transformation {
              priority = 0
              type     = "NONE"
            }
          }
        }

        # Body bytes, whatever the headers say.
        statement {
          size_constraint_statement {
            comparison_operator = "GT"
            size                = 0

            field_to_match {
              body {
                oversize_handling = "MATCH"
              }
            }

            text_transformation {
              priority = 0
              type     = "NONE"
            }
          }
        }
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${local.metric_prefix}_block_request_bodies"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "aws-common-rule-set"
    priority = 3

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesCommonRuleSet"
        vendor_name = "AWS"

        rule_action_override {
          name = "SizeRestrictions_QUERYSTRING"

          action_to_use {
            count {}
          }
        }
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${local.metric_prefix}_aws_common_rule_set"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "aws-known-bad-inputs"
    priority = 4

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
        vendor_name = "AWS"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${local.metric_prefix}_aws_known_bad_inputs"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = local.metric_prefix
    sampled_requests_enabled   = true
  }

  tags = var.tags
}

resource "aws_cloudwatch_log_group" "this" {
  # AWS WAF only logs to log groups whose name starts with aws-waf-logs-.
  name              = "aws-waf-logs-${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_wafv2_web_acl_logging_configuration" "this" {
  resource_arn            = aws_wafv2_web_acl.this.arn
  log_destination_configs = [aws_cloudwatch_log_group.this.arn]

  # Credentials never belong in logs, even if a client sends some.
  redacted_fields {
    single_header {
      name = "authorization"
    }
  }

  redacted_fields {
    single_header {
      name = "cookie"
    }
  }

  # Other services' requests on a shared load balancer stay out of these logs.
  dynamic "logging_filter" {
    for_each = length(local.hosts) > 0 ? [1] : []

    content {
      default_behavior = "KEEP"

      filter {
        behavior    = "DROP"
        requirement = "MEETS_ANY"

        condition {
          label_name_condition {
            label_name = local.other_host_label
          }
        }
      }
    }
  }
}
