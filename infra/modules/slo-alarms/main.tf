# Multiwindow, multi-burn-rate alerts on one SLO (Google SRE Workbook,
# "Alerting on SLOs", method 6). The error ratio of a window is bad events
# over valid events; the burn rate is that ratio over the error budget
# (1 - objective). An alert that may spend budget_percent of the budget in
# its long window fires at
#
#   burn rate = budget_percent / 100 * SLO window / long window
#
# e.g. 2 % of 30 days' budget in 1 hour is a burn rate of 14.4. Each window
# is a metric alarm on the error ratio, with its period the window's
# length and its threshold that burn rate times the budget; the alert is
# both of its windows in alarm, and every alert of one severity is one
# composite alarm, the only alarm here that notifies anyone.

locals {
  budget         = (100 - var.objective_percent) / 100
  window_minutes = var.window_days * 24 * 60

  # A window's name: 5m, 30m, 1h, 6h, 3d.
  labels = {
    for m in distinct(flatten([for a in var.alerts : [a.long_window_minutes, a.short_window_minutes]])) :
    tostring(m) => (m % 1440 == 0 ? "${m / 1440}d" : (m % 60 == 0 ? "${m / 60}h" : "${m}m"))
  }

  alerts = [for a in var.alerts : merge(a, {
    burn_rate = a.budget_percent / 100 * local.window_minutes / a.long_window_minutes
    long      = "${a.severity}-${local.labels[tostring(a.long_window_minutes)]}"
    short     = "${a.severity}-${local.labels[tostring(a.short_window_minutes)]}"
  })]

  windows = merge([for a in local.alerts : {
    for pair in [[a.long, a.long_window_minutes], [a.short, a.short_window_minutes]] : pair[0] => {
      severity  = a.severity
      minutes   = pair[1]
      label     = local.labels[tostring(pair[1])]
      burn_rate = a.burn_rate
    }
  }]...)

  topics = { page = var.page_topic_arn, ticket = var.ticket_topic_arn }

  ratio = "IF(valid >= ${max(1, var.min_valid_events)}, bad / valid, 0)"
}

resource "aws_cloudwatch_metric_alarm" "window" {
  for_each = local.windows

  region              = var.region
  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = "Error ratio of the last ${each.value.label} above ${each.value.burn_rate} times the error budget of ${var.promise}. One window of the ${each.value.severity} alert ${var.name}-${each.value.severity}, which notifies; this alarm notifies no one. Runbook: ${var.runbook_url}"
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.burn_rate * local.budget
  evaluation_periods  = 1
  datapoints_to_alarm = 1
  treat_missing_data  = "notBreaching"
  tags                = var.tags

  metric_query {
    id          = "ratio"
    label       = "Error ratio over ${each.value.label}"
    expression  = local.ratio
    return_data = true
  }

  metric_query {
    id         = "bad"
    expression = var.bad_events
  }

  metric_query {
    id         = "valid"
    expression = var.valid_events
  }

  dynamic "metric_query" {
    for_each = var.metrics

    content {
      id = metric_query.key

      metric {
        namespace   = metric_query.value.namespace
        metric_name = metric_query.value.metric_name
        dimensions  = metric_query.value.dimensions
        stat        = metric_query.value.stat
        period      = each.value.minutes * 60
      }
    }
  }
}

resource "aws_cloudwatch_composite_alarm" "alert" {
  for_each = toset([for a in local.alerts : a.severity])

  region     = var.region
  alarm_name = "${var.name}-${each.key}"
  alarm_description = join(" ", concat(
    ["${title(each.key)}: the error budget of ${var.promise} is burning fast enough to need someone ${each.key == "page" ? "now" : "within days"}:"],
    [for a in local.alerts : "${a.burn_rate} times the budget rate over ${local.labels[tostring(a.long_window_minutes)]} and ${local.labels[tostring(a.short_window_minutes)]} (${a.budget_percent} % of ${var.window_days} days' budget)." if a.severity == each.key],
    ["Runbook: ${var.runbook_url}"],
  ))
  alarm_rule = join(" OR ", [
    for a in local.alerts :
    "(ALARM(\"${aws_cloudwatch_metric_alarm.window[a.long].alarm_name}\") AND ALARM(\"${aws_cloudwatch_metric_alarm.window[a.short].alarm_name}\"))"
    if a.severity == each.key
  ])
  alarm_actions = [local.topics[each.key]]
  ok_actions    = [local.topics[each.key]]
  tags          = var.tags
}
