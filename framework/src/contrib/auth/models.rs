//! `User`, `Group` and `Permission` (Django's `auth_user`, `auth_group`,
//! `auth_permission` and their join tables, with Django's column names).
//!
//! One deliberate difference: a permission names its app by label
//! (`app_label`) instead of pointing at a `ContentType` row; the codename
//! a view checks (`blog.change_article`) is the same.

use std::collections::BTreeSet;

use crate::db::{Auto, DateTime, Executor, ManyToMany, Model, raw};

use super::hashers::{self, HasherSettings};

/// A person who can log in (Django's `User`).
#[derive(Debug, Clone, Model)]
#[model(app = "auth", ordering = "id")]
pub struct User {
    /// The key.
    pub id: Auto<i64>,
    /// The hashed password, in Django's format (`argon2$argon2id$…`,
    /// `pbkdf2_sha256$…`), or an unusable one (`!…`).
    #[model(max_length = 128)]
    pub password: String,
    /// When the user last logged in.
    pub last_login: Option<DateTime>,
    /// Has every permission without being given any.
    #[model(default = false)]
    pub is_superuser: bool,
    /// Unique; letters, digits and `@.+-_`, up to 150 characters.
    #[model(max_length = 150, unique)]
    pub username: String,
    /// Given name.
    #[model(max_length = 150, blank)]
    pub first_name: String,
    /// Family name.
    #[model(max_length = 150, blank)]
    pub last_name: String,
    /// E-mail address (optional).
    #[model(max_length = 254, blank)]
    pub email: String,
    /// May log into the admin.
    #[model(default = false)]
    pub is_staff: bool,
    /// Can log in at all (unset it instead of deleting the user).
    #[model(default = true)]
    pub is_active: bool,
    /// When the account was made.
    #[model(auto_now_add)]
    pub date_joined: DateTime,
    /// The groups the user belongs to.
    pub groups: ManyToMany<Group>,
    /// Permissions given to the user directly.
    pub user_permissions: ManyToMany<Permission>,
}

/// A named set of permissions given to users together.
#[derive(Debug, Clone, Model)]
#[model(app = "auth", ordering = "name")]
pub struct Group {
    /// The key.
    pub id: Auto<i64>,
    /// Unique name.
    #[model(max_length = 150, unique)]
    pub name: String,
    /// What members may do.
    pub permissions: ManyToMany<Permission>,
}

/// Something a user may do: `blog.change_article` is the permission with
/// `app_label = "blog"` and `codename = "change_article"`.
#[derive(Debug, Clone, Model)]
#[model(app = "auth", ordering = "app_label, codename", unique_together = ["app_label", "codename"])]
pub struct Permission {
    /// The key.
    pub id: Auto<i64>,
    /// Human-readable (`Can change article`).
    #[model(max_length = 255)]
    pub name: String,
    /// The app whose model it is about.
    #[model(max_length = 100)]
    pub app_label: String,
    /// `change_article`.
    #[model(max_length = 100)]
    pub codename: String,
}

impl Permission {
    /// `app_label.codename`.
    #[must_use]
    pub fn natural_key(&self) -> String {
        format!("{}.{}", self.app_label, self.codename)
    }
}

impl Default for User {
    fn default() -> Self {
        Self {
            id: Auto::default(),
            password: hashers::make_unusable_password(),
            last_login: None,
            is_superuser: false,
            username: String::new(),
            first_name: String::new(),
            last_name: String::new(),
            email: String::new(),
            is_staff: false,
            is_active: true,
            date_joined: chrono::Utc::now(),
            groups: ManyToMany::default(),
            user_permissions: ManyToMany::default(),
        }
    }
}

impl User {
    /// A new active user (not saved) with `password` hashed.
    #[must_use]
    pub fn new(username: impl Into<String>, password: &str, hasher: &HasherSettings) -> Self {
        let mut user = Self {
            username: username.into(),
            ..Self::default()
        };
        user.set_password(password, hasher);
        user
    }

    /// Hashes and sets `raw` (save the user afterwards).
    pub fn set_password(&mut self, raw: &str, hasher: &HasherSettings) {
        self.password = hashers::make_password(raw, hasher);
    }

    /// Makes the password unusable: the user cannot log in with one.
    pub fn set_unusable_password(&mut self) {
        self.password = hashers::make_unusable_password();
    }

    /// Whether the user has a usable password.
    #[must_use]
    pub fn has_usable_password(&self) -> bool {
        hashers::is_password_usable(&self.password)
    }

    /// Whether `raw` is the user's password. A hash in an older format or
    /// with other parameters than `hasher`'s is replaced (and saved) when
    /// the password matches, as Django does on login.
    ///
    /// # Errors
    /// Saving the upgraded hash failed.
    pub async fn check_password(
        &mut self,
        raw: &str,
        hasher: &HasherSettings,
        db: &dyn Executor,
    ) -> crate::db::Result<bool> {
        // Tens of milliseconds of hashing: off the async workers.
        let (raw_owned, encoded, settings) =
            (raw.to_owned(), self.password.clone(), hasher.clone());
        let check = tokio::task::spawn_blocking(move || {
            let check = hashers::check_password(&raw_owned, &encoded, &settings);
            let upgraded = (check.matched() && check.must_update())
                .then(|| hashers::make_password(&raw_owned, &settings));
            (check.matched(), upgraded)
        })
        .await;
        let (matched, upgraded) = match check {
            Ok(outcome) => outcome,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // The runtime is shutting down: no login now.
            Err(_) => (false, None),
        };
        if let Some(upgraded) = upgraded {
            self.password = upgraded;
            Self::objects()
                .filter(Self::id.eq(self.id.get().unwrap_or_default()))
                .update(db, [Self::password.set(self.password.clone())])
                .await?;
        }
        Ok(matched)
    }

    /// First and last name, with a space (Django's `get_full_name`).
    #[must_use]
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
            .trim()
            .to_owned()
    }

    /// The key the session keeps (`_auth_user_id`).
    #[must_use]
    pub fn key(&self) -> i64 {
        self.id.get().unwrap_or_default()
    }

    /// Every permission the user holds, directly or through a group, as
    /// `app_label.codename` (empty for an inactive user; superusers are
    /// answered by [`has_perm`](Self::has_perm) without looking).
    ///
    /// # Errors
    /// The database's error.
    pub async fn permissions(&self, db: &dyn Executor) -> crate::db::Result<BTreeSet<String>> {
        if !self.is_active {
            return Ok(BTreeSet::new());
        }
        let sql = match db.backend() {
            crate::db::Backend::Postgres => PERMISSIONS_SQL.replace('?', "$1"),
            _ => PERMISSIONS_SQL.replace("?", "?1"),
        };
        let rows: Vec<(String, String)> = raw(sql).bind(self.key()).fetch_all(db).await?;
        Ok(rows.into_iter().map(|(a, c)| format!("{a}.{c}")).collect())
    }

    /// Whether the user may do `perm` (`"blog.change_article"`): active
    /// superusers may do everything, inactive users nothing (Django's
    /// `ModelBackend`).
    ///
    /// # Errors
    /// The database's error.
    pub async fn has_perm(&self, db: &dyn Executor, perm: &str) -> crate::db::Result<bool> {
        if !self.is_active {
            return Ok(false);
        }
        if self.is_superuser {
            return Ok(true);
        }
        Ok(self.permissions(db).await?.contains(perm))
    }

    /// Whether the user holds every one of `perms`.
    ///
    /// # Errors
    /// The database's error.
    pub async fn has_perms(&self, db: &dyn Executor, perms: &[&str]) -> crate::db::Result<bool> {
        if !self.is_active {
            return Ok(false);
        }
        if self.is_superuser {
            return Ok(true);
        }
        let held = self.permissions(db).await?;
        Ok(perms.iter().all(|p| held.contains(*p)))
    }

    /// Whether the user holds any permission of `app_label` (the admin
    /// shows the app then).
    ///
    /// # Errors
    /// The database's error.
    pub async fn has_module_perms(
        &self,
        db: &dyn Executor,
        app_label: &str,
    ) -> crate::db::Result<bool> {
        if !self.is_active {
            return Ok(false);
        }
        if self.is_superuser {
            return Ok(true);
        }
        let prefix = format!("{app_label}.");
        Ok(self
            .permissions(db)
            .await?
            .iter()
            .any(|p| p.starts_with(&prefix)))
    }
}

/// The user's own permissions and their groups', in one statement.
const PERMISSIONS_SQL: &str = "\
SELECT p.app_label, p.codename FROM auth_permission p \
JOIN auth_user_user_permissions up ON up.permission_id = p.id WHERE up.user_id = ? \
UNION \
SELECT p.app_label, p.codename FROM auth_permission p \
JOIN auth_group_permissions gp ON gp.permission_id = p.id \
JOIN auth_user_groups ug ON ug.group_id = gp.group_id WHERE ug.user_id = ?";

impl super::tokens::TokenUser for User {
    fn token_pk(&self) -> String {
        self.key().to_string()
    }

    fn password_hash(&self) -> &str {
        &self.password
    }

    fn last_login(&self) -> Option<chrono::NaiveDateTime> {
        self.last_login.map(|t| t.naive_utc())
    }

    fn email(&self) -> &str {
        &self.email
    }
}
