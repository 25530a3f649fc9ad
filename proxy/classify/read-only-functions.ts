// Functions a read may call and still be sent to the new database. Anything
// not listed counts as a possible write (it might be a user function that
// writes, or nextval/setval), so the statement stays on the source of truth.
// Some of them describe the server that runs them (pg_backend_pid, sizes):
// classify.ts keeps reads calling those on the source (SERVER_FUNCTIONS).
const READ_ONLY = new Set(
  `abs acos age array_agg array_length array_position array_remove array_to_string array_upper array_lower
  ascii asin atan avg bit_length bool_and bool_or btrim cardinality cbrt ceil ceiling char_length character_length
  chr clock_timestamp coalesce concat concat_ws cos count cume_dist current_database current_date current_schema
  current_schemas current_setting current_time current_timestamp current_user date_bin date_part date_trunc decode
  degrees dense_rank div encode every exp extract first_value floor format format_type gen_random_uuid generate_series
  generate_subscripts greatest has_table_privilege has_schema_privilege has_database_privilege initcap isfinite
  json_agg json_array_elements json_array_elements_text json_array_length json_build_array json_build_object
  json_each json_each_text json_extract_path json_extract_path_text json_object json_object_agg json_object_keys
  json_populate_record json_populate_recordset json_strip_nulls json_to_record json_to_recordset json_typeof
  jsonb_agg jsonb_array_elements jsonb_array_elements_text jsonb_array_length jsonb_build_array jsonb_build_object
  jsonb_each jsonb_each_text jsonb_extract_path jsonb_extract_path_text jsonb_insert jsonb_object jsonb_object_agg
  jsonb_object_keys jsonb_path_exists jsonb_path_query jsonb_path_query_array jsonb_path_query_first jsonb_populate_record
  jsonb_populate_recordset jsonb_pretty jsonb_set jsonb_strip_nulls jsonb_to_record jsonb_to_recordset jsonb_typeof
  justify_days justify_hours justify_interval lag last_value lead least left length ln localtime localtimestamp log
  log10 lower lpad ltrim make_date make_interval make_time make_timestamp make_timestamptz max md5 min mod now
  nth_value ntile nullif num_nulls num_nonnulls obj_description octet_length overlay percent_rank percentile_cont
  percentile_disc pg_backend_pid pg_column_size pg_conf_load_time pg_database_size pg_indexes_size pg_postmaster_start_time pg_table_size inet_server_addr inet_server_port pg_get_constraintdef pg_get_expr pg_get_indexdef
  pg_get_userbyid pg_get_viewdef pg_relation_size pg_size_pretty pg_sleep pg_table_is_visible pg_total_relation_size
  pg_type_is_visible pg_typeof pi position power quote_ident quote_literal quote_nullable radians random rank
  regexp_count regexp_instr regexp_like regexp_match regexp_matches regexp_replace regexp_split_to_array
  regexp_split_to_table repeat replace reverse right round row_number row_to_json rpad rtrim session_user sha224
  sha256 sha384 sha512 sign sin split_part sqrt starts_with statement_timestamp stddev stddev_pop stddev_samp
  string_agg string_to_array strpos substr substring sum tan timeofday timezone to_char to_date to_hex to_json
  to_jsonb to_number to_timestamp transaction_timestamp translate trim trunc unnest upper uuid_generate_v4
  var_pop var_samp variance version width_bucket xmlagg`
    .split(/\s+/)
    .filter(Boolean),
);

export function isReadOnlyFunction(name: string): boolean {
  const bare = name.startsWith('pg_catalog.') ? name.slice('pg_catalog.'.length) : name;
  return READ_ONLY.has(bare.toLowerCase());
}

/**
 * Read-only functions whose answer is the server's own: the session's
 * backend process ID (which the client also has from BackendKeyData),
 * on-disk sizes (a value's too: compression may differ), the version, and who
 * logged in to which database (the new database's session logs in as the
 * target URL's role, maybe to a database named otherwise). And the sleeps: a sleeping statement is watched and stopped
 * as the session's backend, found in pg_stat_activity by its text or by the
 * process ID the client was given (pg_cancel_backend, pg_terminate_backend:
 * the test suites of node-postgres and other drivers do both), which only the
 * source's backend is; routed, it slept unseen on the target. Sleeping spares
 * the source no work.
 */
export const SERVER_FUNCTIONS = new Set(['version', 'session_user', 'current_database', 'pg_column_size', 'pg_sleep', 'pg_sleep_for', 'pg_sleep_until', 'pg_backend_pid', 'pg_database_size', 'pg_relation_size', 'pg_total_relation_size', 'pg_table_size', 'pg_indexes_size', 'pg_postmaster_start_time', 'pg_conf_load_time', 'inet_server_addr', 'inet_server_port']);

/**
 * Built-in functions that write, or are not read-only, but leave nothing in
 * the session that a later read could see differently on the new database:
 * sequences (currval() and lastval() are themselves no reads, so stay on the
 * source), notifications, advisory locks, transaction IDs. A statement calling
 * only these (INSERT … VALUES (nextval('s'), …)) needs no look at the session
 * afterwards. set_config() is not here: classify.ts keeps its session on the source.
 */
const SESSION_NEUTRAL = new Set(
  `nextval setval currval lastval pg_notify txid_current txid_current_if_assigned pg_current_xact_id
  pg_current_xact_id_if_assigned pg_advisory_lock pg_advisory_lock_shared pg_advisory_unlock pg_advisory_unlock_shared
  pg_advisory_unlock_all pg_advisory_xact_lock pg_advisory_xact_lock_shared pg_try_advisory_lock
  pg_try_advisory_lock_shared pg_try_advisory_xact_lock pg_try_advisory_xact_lock_shared pg_cancel_backend
  pg_terminate_backend`
    .split(/\s+/)
    .filter(Boolean),
);

export function isSessionNeutral(name: string): boolean {
  const bare = name.startsWith('pg_catalog.') ? name.slice('pg_catalog.'.length) : name;
  return SESSION_NEUTRAL.has(bare.toLowerCase());
}
