# One CloudWatch dashboard per stack: the SLOs first (error ratio against
# the budget, burn rate against the alerts' thresholds, budget left), then
# what explains them (latency, capacity, WAF blocks, the service's own
# counts of answers, 5xx and refused heads) and the
# alerts' state. The body follows CloudWatch's dashboard body structure
# (tests/slo checks it); metric widgets have one region each, so the probe,
# whose metrics are in us-east-1, gets widgets of its own.

data "aws_partition" "current" {}

locals {
  console = lookup({
    aws        = "console.aws.amazon.com"
    aws-cn     = "console.amazonaws.cn"
    aws-us-gov = "console.amazonaws-us-gov.com"
  }, data.aws_partition.current.partition, "console.aws.amazon.com")

  # A metric as a widget's metrics entry: namespace, name, dimension names
  # and values, then its options.
  # Each SLO's metrics, and its bad, valid and ratio expressions, hidden:
  # what a widget computes the line it shows from.
  sli = [for slo in var.slos : concat(
    [for id, m in slo.queries.metrics : concat(
      [m.namespace, m.metric_name],
      flatten([for k, v in m.dimensions : [k, v]]),
      [{ id = id, stat = m.stat, visible = false }],
    )],
    [
      [{ id = "bad", expression = slo.queries.bad, visible = false }],
      [{ id = "valid", expression = slo.queries.valid, visible = false }],
      [{ id = "ratio", expression = slo.queries.ratio, visible = false }],
    ],
  )]

  slo_rows = [for i, slo in var.slos : [
    {
      type   = "metric"
      x      = 0
      y      = 2 + 6 * i
      width  = 10
      height = 6
      properties = {
        title  = "${slo.title}: valid events, and their error ratio against the budget"
        region = coalesce(slo.region, var.region)
        view   = "timeSeries"
        period = 300
        metrics = concat(local.sli[i], [
          [{ id = "shown", expression = "ratio", label = "error ratio (5 min)" }],
          # The traffic behind the ratio: requests (or probe samples).
          [{ id = "events", expression = "valid", label = "valid events (5 min)", yAxis = "right" }],
        ])
        annotations = {
          horizontal = [{ value = slo.error_budget, label = "error budget (${slo.error_budget})", color = "#d62728" }]
        }
        yAxis = { left = { min = 0 } }
      }
    },
    {
      type   = "metric"
      x      = 10
      y      = 2 + 6 * i
      width  = 8
      height = 6
      properties = {
        title  = "${slo.title}: burn rate over 1 hour"
        region = coalesce(slo.region, var.region)
        view   = "timeSeries"
        period = 3600
        metrics = concat(local.sli[i], [
          [{ id = "burn", expression = "ratio / ${slo.error_budget}", label = "burn rate (1 h)" }],
        ])
        annotations = {
          horizontal = [for alert, rate in slo.burn_rates : { value = rate, label = "${alert} (${rate}x)" }]
        }
        yAxis = { left = { min = 0 } }
      }
    },
    {
      type   = "metric"
      x      = 18
      y      = 2 + 6 * i
      width  = 6
      height = 6
      properties = {
        title  = "${slo.title}: error budget left (%, last ${slo.window_days} days)"
        region = coalesce(slo.region, var.region)
        view   = "singleValue"
        # The widget's own time range, whatever the dashboard's, as one
        # period: the budget over the SLO's window.
        start                = "-P${slo.window_days}D"
        setPeriodToTimeRange = true
        metrics = concat(local.sli[i], [
          [{ id = "left", expression = "100 * (1 - ratio / ${slo.error_budget})", label = "budget left (%)" }],
        ])
      }
    },
  ]]

  below = 2 + 6 * length(var.slos)

  capacity = concat([var.capacity.namespace, var.capacity.metric_name], flatten([for d, v in var.capacity.dimensions : [d, v]]))
  latency = var.latency == null ? [] : [for dimensions in var.latency.dimension_sets :
    concat([var.latency.namespace, var.latency.metric_name], flatten([for d, v in dimensions : [d, v]]))
  ]

  explain = concat(
    var.latency == null ? [] : [
      {
        type   = "metric"
        x      = 0
        y      = local.below
        width  = 12
        height = 6
        properties = {
          title  = "Latency at the edge (${var.latency.unit})"
          region = var.region
          view   = "timeSeries"
          period = 60
          # One line per percentile and dimension set: concat, not
          # flatten, which would flatten the entries too.
          metrics = concat([for i, m in local.latency : [
            concat(m, [{ stat = "p50", label = "p50 (${i})" }]),
            concat(m, [{ stat = "p90", label = "p90 (${i})" }]),
            concat(m, [{ stat = "p99", label = "p99 (${i})" }]),
          ]]...)
          annotations = {
            horizontal = [{ value = var.latency.threshold, label = "latency SLO threshold", color = "#d62728" }]
          }
          yAxis = { left = { min = 0 } }
        }
      },
    ],
    [
      {
        type   = "metric"
        x      = 12
        y      = local.below
        width  = 12
        height = 6
        properties = {
          title   = "Running tasks or instances"
          region  = var.region
          view    = "timeSeries"
          period  = 60
          metrics = [concat(local.capacity, [{ stat = "Maximum", label = "running" }])]
          annotations = {
            horizontal = [{ value = var.capacity.max_capacity, label = "scaling maximum" }]
          }
          yAxis = { left = { min = 0 } }
        }
      },
      {
        type   = "metric"
        x      = 0
        y      = local.below + 6
        width  = 12
        height = 6
        properties = {
          title   = "Requests the WAF blocked"
          region  = var.region
          view    = "timeSeries"
          period  = 60
          metrics = [["AWS/WAFV2", "BlockedRequests", "WebACL", var.web_acl_metric_name, "Region", var.region, "Rule", "ALL", { stat = "Sum", label = "blocked" }]]
        }
      },
    ],
    length(var.service_log_metrics) == 0 ? [] : [
      {
        type   = "metric"
        x      = 12
        y      = local.below + 6
        width  = 12
        height = 6
        properties = {
          title  = "The service's own count, from its log lines"
          region = var.region
          view   = "timeSeries"
          period = 60
          metrics = [for label, m in var.service_log_metrics : concat(
            [m.namespace, m.metric_name],
            flatten([for d, v in m.dimensions : [d, v]]),
            [{ stat = "Sum", label = label }],
          )]
        }
      },
    ],
    [
      {
        type   = "alarm"
        x      = 0
        y      = local.below + 12
        width  = 24
        height = 4
        properties = {
          title  = "Alerts"
          alarms = var.alert_arns
        }
      },
    ],
  )

  body = {
    start          = "-PT12H"
    periodOverride = "inherit"
    widgets = concat(
      [{
        type   = "text"
        x      = 0
        y      = 0
        width  = 24
        height = 2
        properties = {
          markdown = "# ${var.name}\nWhat each SLO promises and how it is measured: [docs/slo.md](${var.docs_url}/slo.md). What to do when an alert fires: [docs/operations.md](${var.docs_url}/operations.md#alerts)."
        }
      }],
      flatten(local.slo_rows),
      local.explain,
    )
  }
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode(local.body)
}
