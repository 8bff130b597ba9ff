# The inputs' validations, fired by a plan of the whole module. A run passes only if every
# variable in expect_failures fails its validation and nothing else fails, so several bad values
# can share a run (one per variable); each bad value of a variable gets a run of its own.
# tests/aws/test_terraform.py checks the messages these validations give.

run "native_mode_needs_each_input" {
  command = plan

  variables {
    controller_private_ip = null
    native_bucket_name    = null
    native_account_name   = null
  }

  expect_failures = [var.controller_private_ip, var.native_bucket_name, var.native_account_name]
}

run "one_missing_native_input_is_the_only_one_refused" {
  command = plan

  variables {
    native_account_name = null
    replacement_tag     = "${join("", [for i in range(129) : "a"])}=controller" # a tag key is at most 128
  }

  expect_failures = [var.native_account_name, var.replacement_tag]
}

run "bad_values_1" {
  command = plan

  variables {
    noncurrent_version_days = 1 # less than a week of history
    replacement_tag         = "role"
    replacement_url         = "private_ip"
    restore_allowed_targets = ["10.0.2.0/24,10.0.3.0/24"]
    controller_customer_id  = "CUSTOMER-1"                 # without create_customer_id_secret
    subnet_ids              = ["subnet-0123456789abcdef0"] # without a security group
    backup_mode             = "backup"
  }

  expect_failures = [
    var.noncurrent_version_days,
    var.replacement_tag,
    var.replacement_url,
    var.restore_allowed_targets,
    var.controller_customer_id,
    var.security_group_ids,
    var.backup_mode,
  ]
}

run "bad_values_2" {
  command = plan

  variables {
    replacement_tag         = "=controller"
    replacement_url         = "http://{private_ip}"
    restore_allowed_targets = ["https://ctl.example.com"]
    backup_timeout_seconds  = 300                                       # native mode: less than the 300 s wait + 120
    copy_credentials        = { "gs://elsewhere/b.tar" = "aws-sm:key" } # not one of copy_urls
  }

  expect_failures = [var.replacement_tag, var.replacement_url, var.restore_allowed_targets, var.backup_timeout_seconds, var.copy_credentials]
}

run "bad_values_3" {
  command = plan

  variables {
    replacement_tag         = "role="
    replacement_url         = "https://controller.example.com"
    restore_allowed_targets = ["10.0.2.0/99"]
    # export mode, so only the wait's own bounds can refuse it (not the backup's timeout)
    backup_mode                = "export"
    native_backup_wait_seconds = 781
    native_cloud_type          = "azure"
  }

  expect_failures = [
    var.replacement_tag,
    var.replacement_url,
    var.restore_allowed_targets,
    var.native_backup_wait_seconds,
    var.native_cloud_type,
  ]
}

run "bad_copy_lock_and_check_inputs" {
  command = plan

  variables {
    copy_urls        = ["s3://dr/a.tar,gs://dr/b.tar"]
    object_lock_mode = "LEGAL_HOLD"
    object_lock_days = 0
    verify_schedule  = "0 6 * * *" # not an EventBridge Scheduler expression
  }

  expect_failures = [var.copy_urls, var.object_lock_mode, var.object_lock_days, var.verify_schedule]
}
