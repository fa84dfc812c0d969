# The CloudWatch Logs Insights queries the runbooks (docs/operations.md)
# tell an operator to run, saved so that the console lists them under
# <name>/ next to the log group. They read the service's JSON lines: one
# `request` line per answer (status, duration_us, error for a refused
# head), and lifecycle events (start, overload, shutdown, exit, panic,
# handler_panic).

locals {
  queries = {
    "5xx-responses" = <<-EOT
      fields @timestamp, status, method, path, duration_us, request_id, client
      | filter event = "request" and status >= 500 and not ispresent(error)
      | sort @timestamp desc
      | limit 100
    EOT
    "panics"        = <<-EOT
      fields @timestamp, level, event, @message
      | filter event in ["panic", "handler_panic", "listener_failed", "startup_failed"]
      | sort @timestamp desc
      | limit 100
    EOT
    "slow-requests" = <<-EOT
      filter event = "request" and not ispresent(error)
      | stats count(*) as requests, sum(duration_us > ${var.latency_threshold_ms * 1000}) as slow, pct(duration_us, 50) as p50_us, pct(duration_us, 99) as p99_us by bin(5m)
      | sort @timestamp desc
    EOT
    "refused-heads" = <<-EOT
      filter event = "request" and ispresent(error)
      | stats count(*) as refused by error, client
      | sort refused desc
      | limit 50
    EOT
    "lifecycle"     = <<-EOT
      fields @timestamp, level, event, @message
      | filter event in ["start", "overload", "shutdown", "exit", "open_files_limit"]
      | sort @timestamp desc
      | limit 100
    EOT
  }
}

resource "aws_cloudwatch_query_definition" "this" {
  for_each = local.queries

  name            = "${var.name}/${each.key}"
  log_group_names = var.log_group_names
  query_string    = each.value
}
