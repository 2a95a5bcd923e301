/* The schema migrations compiled into the binary (results/migrations/NNN_name.sql,
 * embedded at build time). Applied in version order by bnc_db_migrate. */
#ifndef BNC_MIGRATIONS_H
#define BNC_MIGRATIONS_H

typedef struct bnc_migration {
    int version;
    const char *name;
    const char *sql;
} bnc_migration;

extern const bnc_migration bnc_migrations[];
extern const int bnc_migration_count;

#endif
