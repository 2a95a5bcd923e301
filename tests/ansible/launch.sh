#!/usr/bin/env bash
# The ansible playbooks: every playbook passes ansible's syntax check, and
# hostfile.yml + campaign.yml, run against this machine as a one-node
# cluster, write the MPI hostfile and launch a real campaign into the test
# database.
. "$SRC/tests/lib.sh"
need_db
command -v ansible-playbook >/dev/null || fail "ansible-playbook missing (scripts/setup installs ansible-core)"
cat > "$T/inventory.ini" <<INV
[coordinator]
localhost slots=3 ansible_connection=local ansible_python_interpreter=/usr/bin/python3

[workers]
localhost slots=3 ansible_connection=local ansible_python_interpreter=/usr/bin/python3

[db]
localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3
INV
ansible-playbook -i "$T/inventory.ini" --syntax-check "$SRC"/ansible/*.yml >/dev/null ||
    fail "syntax of the playbooks"
spec=$(spec_named "$SRC/examples/hello.yaml" t_ansible)
export ANSIBLE_LOCAL_TEMP=$T/ansible-tmp ANSIBLE_NOCOLOR=1
ansible-playbook -i "$T/inventory.ini" "$SRC/ansible/hostfile.yml" "$SRC/ansible/campaign.yml" \
    -e "bnc_src=$SRC bnc_bin=$BNC bnc_hostfile=$T/hosts/hostfile bnc_spec=$spec" \
    -e "bnc_db_url=$BNC_TEST_DB" -e "bnc_mpirun_extra='--oversubscribe'" > "$T/log" 2>&1 ||
    { cat "$T/log"; fail "playbooks failed"; }
grep -q "6 tasks planned" "$T/log" || { cat "$T/log"; fail "campaign summary missing"; }
expect_eq "$(grep -v '^#' "$T/hosts/hostfile")" "localhost slots=3" "hostfile"
expect_eq "$(psql_val "SELECT count(*) FROM tasks WHERE campaign='t_ansible' AND status='done'")" 6 "tasks"
expect_eq "$(psql_val "SELECT count(DISTINCT rank) FROM tasks WHERE campaign='t_ansible'")" 2 "worker ranks"
echo "1 passed, 0 failed"
