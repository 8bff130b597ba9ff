# State addresses from before the four functions shared one block (for_each over
# local.functions): an existing deployment's functions, and the trigger identity's grants on the
# event-driven ones, move to their new addresses, none is destroyed and created again.
moved {
  from = google_cloudfunctions2_function.backup
  to   = google_cloudfunctions2_function.this["backup"]
}

moved {
  from = google_cloudfunctions2_function.restore
  to   = google_cloudfunctions2_function.this["restore"]
}

moved {
  from = google_cloudfunctions2_function.backup_event[0]
  to   = google_cloudfunctions2_function.this["backup_event"]
}

moved {
  from = google_cloudfunctions2_function.restore_event[0]
  to   = google_cloudfunctions2_function.this["restore_event"]
}

moved {
  from = google_cloud_run_service_iam_member.trigger_invokes_backup_event[0]
  to   = google_cloud_run_service_iam_member.trigger_invokes["backup_event"]
}

moved {
  from = google_cloud_run_service_iam_member.trigger_invokes_restore_event[0]
  to   = google_cloud_run_service_iam_member.trigger_invokes["restore_event"]
}
