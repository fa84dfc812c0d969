# Where alarms send what they find: one topic for pages (someone acts now)
# and one for tickets (someone acts this week), so that an operator routes
# each to its own place. Both are encrypted with the stack's key, which
# lets CloudWatch alarms use it, and only this account's alarms publish.

data "aws_caller_identity" "current" {}

resource "aws_sns_topic" "this" {
  for_each = toset(["page", "ticket"])

  region            = var.region
  name              = "${var.name}-${each.key}"
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "topic" {
  for_each = aws_sns_topic.this

  statement {
    sid       = "CloudWatchAlarmsOfThisAccountPublish"
    actions   = ["sns:Publish"]
    resources = [each.value.arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "this" {
  for_each = aws_sns_topic.this

  region = var.region
  arn    = each.value.arn
  policy = data.aws_iam_policy_document.topic[each.key].json
}

locals {
  emails = { for severity, address in { page = var.page_email, ticket = var.ticket_email } : severity => address if address != null }
}

resource "aws_sns_topic_subscription" "email" {
  for_each = local.emails

  region    = var.region
  topic_arn = aws_sns_topic.this[each.key].arn
  protocol  = "email"
  endpoint  = each.value
}
