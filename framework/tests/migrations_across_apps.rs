//! Migrations across apps, on SQLite always and on PostgreSQL when
//! `DATABASE_URL` is set: models renamed while other apps point at them,
//! many-to-many join tables that follow renames with their rows, foreign
//! keys that make a cycle between two apps, and join columns that follow
//! a primary key's type. Each runs in both alphabetical orders of the apps'
//! labels: the result must not depend on them.
//!
//! Three apps: `people` (riders), `catalog` (teams: a captain and
//! members, both riders) and `orders` (an order of a team by a rider, with
//! extra teams). Then `people.Rider` becomes `Cyclist` and `catalog.Team`
//! becomes `Squad`, with new tables: the foreign keys keep pointing at the
//! same rows, and the join tables and their columns take the new names.

#[path = "support/migrating.rs"]
mod migrating;
use migrating::{exec, strings};

use manouche::db::schema::ModelSchema;
use manouche::db::testing::for_each_database;
use manouche::db::{Backend, Database, Model};
use manouche::migrations::autodetector::{Hints, detect};
use manouche::migrations::executor::{self, Target};
use manouche::migrations::{Migration, MigrationSet, Operation};

pub mod v1 {
    use manouche::db::{Auto, ForeignKey, ManyToMany, Model};

    #[derive(Debug, Clone, Model)]
    #[model(app = "people", table = "people_rider")]
    pub struct Rider {
        pub id: Auto<i64>,
        #[model(max_length = 50)]
        pub name: String,
    }

    #[derive(Debug, Clone, Model)]
    #[model(app = "catalog", table = "catalog_team")]
    pub struct Team {
        pub id: Auto<i64>,
        #[model(max_length = 50)]
        pub name: String,
        pub captain: ForeignKey<Rider>,
        pub riders: ManyToMany<Rider>,
    }

    #[derive(Debug, Clone, Model)]
    #[model(app = "orders", table = "orders_order")]
    pub struct Order {
        pub id: Auto<i64>,
        pub team: ForeignKey<Team>,
        pub buyer: ForeignKey<Rider>,
        pub extras: ManyToMany<Team>,
    }
}

pub mod v2 {
    use manouche::db::{Auto, ForeignKey, ManyToMany, Model};

    /// `people.Rider`, renamed.
    #[derive(Debug, Clone, Model)]
    #[model(app = "people", table = "people_cyclist")]
    pub struct Cyclist {
        pub id: Auto<i64>,
        #[model(max_length = 50)]
        pub name: String,
    }

    /// `catalog.Team`, renamed.
    #[derive(Debug, Clone, Model)]
    #[model(app = "catalog", table = "catalog_squad")]
    pub struct Squad {
        pub id: Auto<i64>,
        #[model(max_length = 50)]
        pub name: String,
        pub captain: ForeignKey<Cyclist>,
        pub riders: ManyToMany<Cyclist>,
    }

    #[derive(Debug, Clone, Model)]
    #[model(app = "orders", table = "orders_order")]
    pub struct Order {
        pub id: Auto<i64>,
        pub team: ForeignKey<Squad>,
        pub buyer: ForeignKey<Cyclist>,
        pub extras: ManyToMany<Squad>,
    }
}

/// Two teams of one app and players of another that point at each other:
/// a foreign-key cycle between the apps.
pub mod cycle {
    use manouche::db::{Auto, ForeignKey, Model};

    #[derive(Debug, Clone, Model)]
    #[model(app = "clubs", table = "clubs_club")]
    pub struct Club {
        pub id: Auto<i64>,
        #[model(max_length = 50)]
        pub name: String,
        pub star: Option<ForeignKey<Player>>,
    }

    #[derive(Debug, Clone, Model)]
    #[model(app = "players", table = "players_player")]
    pub struct Player {
        pub id: Auto<i64>,
        #[model(max_length = 50)]
        pub name: String,
        pub club: ForeignKey<Club>,
    }
}

/// The same riders and teams with an `i32` primary key on riders.
pub mod narrow_pk {
    use manouche::db::{Auto, ForeignKey, ManyToMany, Model};

    #[derive(Debug, Clone, Model)]
    #[model(app = "people", table = "people_rider")]
    pub struct Rider {
        pub id: Auto<i32>,
        #[model(max_length = 50)]
        pub name: String,
    }

    #[derive(Debug, Clone, Model)]
    #[model(app = "catalog", table = "catalog_team")]
    pub struct Team {
        pub id: Auto<i64>,
        #[model(max_length = 50)]
        pub name: String,
        pub captain: ForeignKey<Rider>,
        pub riders: ManyToMany<Rider>,
    }
}

/// The apps' labels, in one of two orders: as written (`catalog` <
/// `orders` < `people`: the renamed target sorts last), or swapped so that
/// `people` sorts first and `catalog` last.
#[derive(Debug, Clone, Copy)]
enum Labels {
    AsWritten,
    Swapped,
}

impl Labels {
    fn of(self, app: &str) -> String {
        match (self, app) {
            (Self::AsWritten, _) => app.to_owned(),
            (Self::Swapped, "people") => "a_people".to_owned(),
            (Self::Swapped, "orders") => "m_orders".to_owned(),
            (Self::Swapped, "catalog") => "z_catalog".to_owned(),
            (Self::Swapped, other) => other.to_owned(),
        }
    }

    fn relabel(self, mut models: Vec<ModelSchema>) -> Vec<ModelSchema> {
        for m in &mut models {
            m.app = self.of(&m.app);
        }
        models
    }

    fn apps(self) -> Vec<String> {
        ["people", "catalog", "orders"]
            .iter()
            .map(|a| self.of(a))
            .collect()
    }
}

fn v1_models(labels: Labels) -> Vec<ModelSchema> {
    labels.relabel(vec![
        v1::Rider::schema(),
        v1::Team::schema(),
        v1::Order::schema(),
    ])
}

fn v2_models(labels: Labels) -> Vec<ModelSchema> {
    labels.relabel(vec![
        v2::Cyclist::schema(),
        v2::Squad::schema(),
        v2::Order::schema(),
    ])
}

fn rename_hints(labels: Labels) -> Hints {
    let mut hints = Hints::default();
    hints
        .add_rename(&format!("{}.Rider=Cyclist", labels.of("people")))
        .expect("hint");
    hints
        .add_rename(&format!("{}.Team=Squad", labels.of("catalog")))
        .expect("hint");
    hints
}

/// `makemigrations`: the new migrations from `set` to `models`, added to
/// the set (which must load: no cycle, every operation applies), and
/// nothing left to detect afterwards.
fn makemigrations(
    set: &MigrationSet,
    models: &[ModelSchema],
    apps: &[String],
    hints: &Hints,
) -> (MigrationSet, Vec<Migration>) {
    let new = detect(set, models, apps, hints).expect("detect");
    let mut all = set.ordered().to_vec();
    all.extend(new.iter().cloned());
    let after = MigrationSet::new(all).expect("the new migrations load");
    after.state().expect("state");
    let again = detect(&after, models, apps, hints).expect("detect again");
    assert!(again.is_empty(), "nothing left to detect: {again:?}");
    (after, new)
}

/// Migrates to `target`; a failure fails the test with its message.
async fn migrate(db: &Database, set: &MigrationSet, target: Target) {
    if let Err(e) = migrating::migrate(db, set, target.clone()).await {
        panic!("migrate to {target:?} on {:?}: {e}", db.backend());
    }
}

async fn nothing_applied(db: &Database) -> bool {
    executor::applied(db).await.expect("recorder").is_empty()
}

/// Every row of `table`, its `columns` joined by `|`, in id order.
async fn rows(db: &Database, table: &str, columns: &[&str]) -> Vec<String> {
    let values: Vec<String> = columns
        .iter()
        .map(|c| format!("CAST({c} AS TEXT)"))
        .collect();
    strings(
        db,
        &format!(
            "SELECT {} FROM {table} ORDER BY id",
            values.join(" || '|' || ")
        ),
    )
    .await
}

/// The rows as the first models name them.
async fn v1_rows(db: &Database) -> Vec<Vec<String>> {
    vec![
        rows(db, "people_rider", &["id", "name"]).await,
        rows(db, "catalog_team", &["id", "name", "captain_id"]).await,
        rows(db, "catalog_team_riders", &["team_id", "rider_id"]).await,
        rows(db, "orders_order", &["id", "team_id", "buyer_id"]).await,
        rows(db, "orders_order_extras", &["order_id", "team_id"]).await,
    ]
}

/// The same rows under the renamed tables and columns.
async fn v2_rows(db: &Database) -> Vec<Vec<String>> {
    vec![
        rows(db, "people_cyclist", &["id", "name"]).await,
        rows(db, "catalog_squad", &["id", "name", "captain_id"]).await,
        rows(db, "catalog_squad_riders", &["squad_id", "cyclist_id"]).await,
        rows(db, "orders_order", &["id", "team_id", "buyer_id"]).await,
        rows(db, "orders_order_extras", &["order_id", "squad_id"]).await,
    ]
}

async fn seed_v1(db: &Database) {
    for sql in [
        "INSERT INTO people_rider (id, name) VALUES (1, 'Anna'), (2, 'Ben'), (3, 'Cleo')",
        "INSERT INTO catalog_team (id, name, captain_id) VALUES (1, 'Blue', 1), (2, 'Red', 3)",
        "INSERT INTO catalog_team_riders (team_id, rider_id) VALUES (1, 1), (1, 2), (2, 3)",
        "INSERT INTO orders_order (id, team_id, buyer_id) VALUES (1, 1, 2), (2, 2, 2)",
        "INSERT INTO orders_order_extras (order_id, team_id) VALUES (1, 2), (2, 1)",
    ] {
        exec(db, sql).await.expect(sql);
    }
}

/// The links point at rows that exist, and at nothing else: a row that
/// points at a missing cyclist or squad is refused.
async fn foreign_keys_hold(db: &Database) {
    if db.backend() == Backend::Sqlite {
        let problems = strings(db, "SELECT \"table\" FROM pragma_foreign_key_check").await;
        assert!(problems.is_empty(), "{problems:?}");
        exec(db, "PRAGMA foreign_keys = ON").await.expect("pragma");
    }
    for bad in [
        "INSERT INTO catalog_squad_riders (squad_id, cyclist_id) VALUES (1, 99)",
        "INSERT INTO orders_order_extras (order_id, squad_id) VALUES (1, 99)",
        "INSERT INTO orders_order (id, team_id, buyer_id) VALUES (9, 99, 1)",
        "INSERT INTO catalog_squad (id, name, captain_id) VALUES (9, 'X', 99)",
    ] {
        assert!(exec(db, bad).await.is_err(), "refused: {bad}");
    }
    for good in [
        "INSERT INTO catalog_squad_riders (squad_id, cyclist_id) VALUES (2, 1)",
        "INSERT INTO orders_order_extras (order_id, squad_id) VALUES (1, 1)",
    ] {
        exec(db, good).await.expect(good);
    }
    for undo in [
        "DELETE FROM catalog_squad_riders WHERE squad_id = 2 AND cyclist_id = 1",
        "DELETE FROM orders_order_extras WHERE order_id = 1 AND squad_id = 1",
    ] {
        exec(db, undo).await.expect(undo);
    }
}

fn operations_of<'m>(new: &'m [Migration], app: &str) -> Vec<&'m Operation> {
    new.iter()
        .filter(|m| m.app == app)
        .flat_map(|m| &m.operations)
        .collect()
}

#[test]
fn a_rename_writes_no_alter_field_elsewhere_and_comes_first() {
    for labels in [Labels::AsWritten, Labels::Swapped] {
        let apps = labels.apps();
        let (set, _) = makemigrations(
            &MigrationSet::default(),
            &v1_models(labels),
            &apps,
            &Hints::default(),
        );
        let (after, new) = makemigrations(&set, &v2_models(labels), &apps, &rename_hints(labels));
        let people = labels.of("people");
        let catalog = labels.of("catalog");
        let orders = labels.of("orders");
        for m in &new {
            for op in &m.operations {
                assert!(
                    !matches!(op, Operation::AlterField { .. }),
                    "{labels:?}: no AlterField for a renamed target: {op:?}"
                );
            }
        }
        assert!(matches!(
            operations_of(&new, &people)[..],
            [Operation::RenameModel { .. }]
        ));
        // The team's own join table follows both renames: its name and both
        // columns.
        let catalog_ops = operations_of(&new, &catalog);
        assert!(
            matches!(catalog_ops[0], Operation::RenameModel { .. }),
            "{catalog_ops:?}"
        );
        // (The automatic name of the captain's index follows too.)
        assert!(
            catalog_ops[1..]
                .iter()
                .any(|op| matches!(op, Operation::RenameIndex { .. }))
        );
        let Some(Operation::AlterJoinTable { old, table, .. }) = catalog_ops
            .iter()
            .find(|op| matches!(op, Operation::AlterJoinTable { .. }))
        else {
            panic!("{labels:?}: {catalog_ops:?}");
        };
        assert_eq!(old, "catalog_team_riders");
        assert_eq!(table.name, "catalog_squad_riders");
        let columns: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(columns, ["id", "squad_id", "cyclist_id"]);
        // The order's join table keeps its name; its column follows.
        let [Operation::AlterJoinTable { old, table, .. }] = operations_of(&new, &orders)[..]
        else {
            panic!("{labels:?}: {new:?}");
        };
        assert_eq!(old, "orders_order_extras");
        assert_eq!(table.name, "orders_order_extras");
        let columns: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(columns, ["id", "order_id", "squad_id"]);
        // Each migration that points at a renamed table runs after the
        // rename.
        let key = |app: &str| {
            new.iter()
                .find(|m| m.app == app)
                .map(Migration::key)
                .expect("migration")
        };
        let deps = |app: &str| {
            new.iter()
                .find(|m| m.app == app)
                .map(|m| m.dependencies.clone())
                .expect("migration")
        };
        assert!(deps(&catalog).contains(&key(&people)), "{labels:?}");
        assert!(deps(&orders).contains(&key(&catalog)), "{labels:?}");

        // The join table is renamed, not rebuilt: its indexes too, in place
        // on PostgreSQL.
        let catalog_migration = new.iter().find(|m| m.app == catalog).expect("catalog");
        let sql = executor::sql_for(&after, Backend::Postgres, catalog_migration, false)
            .expect("sql")
            .join(";\n");
        for expected in [
            r#"ALTER TABLE "catalog_team_riders" RENAME TO "catalog_squad_riders""#,
            r#"ALTER TABLE "catalog_squad_riders" RENAME COLUMN "team_id" TO "squad_id""#,
            r#"ALTER INDEX "catalog_team_riders_team_id_rider_id_uniq" RENAME TO "catalog_squad_riders_squad_id_cyclist_id_uniq""#,
            r#"ALTER INDEX "catalog_team_riders_rider_id_idx" RENAME TO "catalog_squad_riders_cyclist_id_idx""#,
        ] {
            assert!(sql.contains(expected), "{expected} in\n{sql}");
        }
        assert!(
            !sql.contains("DROP INDEX") && !sql.contains("CREATE"),
            "{sql}"
        );
    }
}

#[tokio::test]
async fn three_apps_renamed_keep_every_row_both_ways() {
    for labels in [Labels::AsWritten, Labels::Swapped] {
        for_each_database(|db| async move {
            let apps = labels.apps();
            let (first, initial) = makemigrations(
                &MigrationSet::default(),
                &v1_models(labels),
                &apps,
                &Hints::default(),
            );
            assert_eq!(initial.len(), 3);
            migrate(&db, &first, Target::All).await;
            seed_v1(&db).await;
            let before = v1_rows(&db).await;
            assert_eq!(before[2], ["1|1", "1|2", "2|3"]);

            let (second, _) =
                makemigrations(&first, &v2_models(labels), &apps, &rename_hints(labels));
            migrate(&db, &second, Target::All).await;
            assert_eq!(v2_rows(&db).await, before, "{labels:?}: every row kept");
            foreign_keys_hold(&db).await;

            // Back before the renames, and forward again.
            for app in &apps {
                migrate(
                    &db,
                    &second,
                    Target::Migration(app.clone(), "0001_initial".into()),
                )
                .await;
            }
            assert_eq!(v1_rows(&db).await, before, "{labels:?}: unapplied");
            migrate(&db, &second, Target::All).await;
            assert_eq!(v2_rows(&db).await, before, "{labels:?}: applied again");

            // Zero and back: the tables are made again, and take rows.
            for app in &apps {
                migrate(&db, &second, Target::Zero(app.clone())).await;
            }
            assert!(nothing_applied(&db).await);
            migrate(&db, &second, Target::All).await;
            exec(
                &db,
                "INSERT INTO people_cyclist (id, name) VALUES (1, 'Anna')",
            )
            .await?;
            exec(
                &db,
                "INSERT INTO catalog_squad (id, name, captain_id) VALUES (1, 'Blue', 1)",
            )
            .await?;
            exec(
                &db,
                "INSERT INTO catalog_squad_riders (squad_id, cyclist_id) VALUES (1, 1)",
            )
            .await?;
            assert_eq!(
                rows(&db, "catalog_squad_riders", &["squad_id", "cyclist_id"]).await,
                ["1|1"]
            );
            Ok(())
        })
        .await;
    }
}

#[tokio::test]
async fn a_foreign_key_cycle_between_two_apps_is_split_in_two_migrations() {
    for labels in [("clubs", "players"), ("z_clubs", "a_players")] {
        for_each_database(|db| async move {
            let relabel = |mut m: ModelSchema| {
                m.app = if m.app == "clubs" { labels.0 } else { labels.1 }.to_owned();
                m
            };
            let models = vec![
                relabel(cycle::Club::schema()),
                relabel(cycle::Player::schema()),
            ];
            let apps = vec![labels.0.to_owned(), labels.1.to_owned()];
            let (set, new) =
                makemigrations(&MigrationSet::default(), &models, &apps, &Hints::default());
            // One side gets a second migration adding its foreign key.
            assert_eq!(new.len(), 3, "{new:?}");
            let second = new
                .iter()
                .find(|m| m.name.starts_with("0002_"))
                .expect("a second migration");
            assert!(
                second.operations.iter().any(|op| matches!(
                    op,
                    Operation::AddField {
                        foreign_key: Some(_),
                        ..
                    }
                )),
                "{second:?}"
            );
            migrate(&db, &set, Target::All).await;
            exec(
                &db,
                "INSERT INTO clubs_club (id, name) VALUES (1, 'Rovers')",
            )
            .await?;
            exec(
                &db,
                "INSERT INTO players_player (id, name, club_id) VALUES (1, 'Dee', 1)",
            )
            .await?;
            exec(&db, "UPDATE clubs_club SET star_id = 1 WHERE id = 1").await?;
            assert_eq!(
                rows(&db, "clubs_club", &["id", "name", "star_id"]).await,
                ["1|Rovers|1"]
            );
            if db.backend() == Backend::Sqlite {
                exec(&db, "PRAGMA foreign_keys = ON").await?;
            }
            assert!(
                exec(&db, "UPDATE clubs_club SET star_id = 99 WHERE id = 1")
                    .await
                    .is_err(),
                "the split foreign key is enforced"
            );
            for app in &apps {
                migrate(&db, &set, Target::Zero(app.clone())).await;
            }
            assert!(nothing_applied(&db).await);
            migrate(&db, &set, Target::All).await;
            Ok(())
        })
        .await;
    }
}

#[tokio::test]
async fn join_and_foreign_key_columns_follow_a_primary_key_type() {
    for_each_database(|db| async move {
        let labels = Labels::AsWritten;
        let apps = vec![labels.of("people"), labels.of("catalog")];
        let wide = vec![v1::Rider::schema(), v1::Team::schema()];
        let narrow = vec![narrow_pk::Rider::schema(), narrow_pk::Team::schema()];
        let (first, _) = makemigrations(&MigrationSet::default(), &wide, &apps, &Hints::default());
        migrate(&db, &first, Target::All).await;
        exec(
            &db,
            "INSERT INTO people_rider (id, name) VALUES (1, 'Anna'), (2, 'Ben')",
        )
        .await?;
        exec(
            &db,
            "INSERT INTO catalog_team (id, name, captain_id) VALUES (1, 'Blue', 1)",
        )
        .await?;
        exec(
            &db,
            "INSERT INTO catalog_team_riders (team_id, rider_id) VALUES (1, 1), (1, 2)",
        )
        .await?;
        let (second, new) = makemigrations(&first, &narrow, &apps, &Hints::default());
        let catalog_ops = operations_of(&new, "catalog");
        assert!(
            catalog_ops
                .iter()
                .any(|op| matches!(op, Operation::AlterJoinTable { .. })),
            "{new:?}"
        );
        migrate(&db, &second, Target::All).await;
        if db.backend() == Backend::Postgres {
            let types = strings(
                &db,
                "SELECT table_name || '.' || column_name || ' ' || data_type \
                 FROM information_schema.columns \
                 WHERE (table_name, column_name) IN (('people_rider', 'id'), \
                 ('catalog_team', 'captain_id'), ('catalog_team_riders', 'rider_id')) \
                 ORDER BY table_name",
            )
            .await;
            assert_eq!(
                types,
                [
                    "catalog_team.captain_id integer",
                    "catalog_team_riders.rider_id integer",
                    "people_rider.id integer",
                ]
            );
        }
        assert_eq!(
            rows(&db, "catalog_team_riders", &["team_id", "rider_id"]).await,
            ["1|1", "1|2"]
        );
        // And back.
        migrate(
            &db,
            &second,
            Target::Migration("catalog".into(), "0001_initial".into()),
        )
        .await;
        migrate(
            &db,
            &second,
            Target::Migration("people".into(), "0001_initial".into()),
        )
        .await;
        assert_eq!(
            rows(&db, "catalog_team_riders", &["team_id", "rider_id"]).await,
            ["1|1", "1|2"]
        );
        Ok(())
    })
    .await;
}
