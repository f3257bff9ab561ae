//! The signing-keys table `jwt_allauth_signing_keys`: its statements and logic, written
//! once for both backends (the differences are in `table_sql.rs`).

use jwt_allauth::Algorithm;
use sqlx::{ColumnIndex, Decode, Encode, Executor, Pool, Type};
use time::OffsetDateTime;

use super::encryption::SealedKey;
use super::stored_key::{KeyState, StoredKey};
use super::table_sql::{self, Dialect};
use crate::db::Database;

/// Runs `$table.$call` on the signing-keys table of `$db`, whichever its backend.
macro_rules! on_table {
    ($db:expr, $table:ident => $call:expr) => {
        match $db {
            Database::Sqlite(pool) => {
                let $table = Table(pool);
                $call.await
            }
            Database::Postgres(pool) => {
                let $table = Table(pool);
                $call.await
            }
        }
    };
}

/// Why a signing-keys operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    /// The database cannot be reached (connection refused, pool timed out, busy).
    #[error("the database is unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// Any other database error.
    #[error("the signing-keys query failed")]
    Database(#[source] sqlx::Error),
    /// A row holds what no version of the server writes.
    #[error("the stored signing key {kid} is corrupt: {reason}")]
    Corrupt {
        /// The key.
        kid: String,
        /// What is wrong.
        reason: String,
    },
}

impl KeyStoreError {
    fn from_sqlx(err: sqlx::Error) -> Self {
        if jwt_allauth_sqlx::is_unavailable(&err) {
            KeyStoreError::Unavailable(err)
        } else {
            KeyStoreError::Database(err)
        }
    }
}

/// What an activation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Activation {
    /// The key is active now; the key that was (if any) is previous.
    Activated {
        /// The key that signed until now.
        previous: Option<String>,
    },
    /// No standby key has this kid (nothing changed).
    NotStandby,
}

/// The signing keys on the server's database (migrated). Cheap to clone.
#[derive(Debug, Clone)]
pub struct SigningKeys {
    db: Database,
}

impl SigningKeys {
    /// The table on `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Every key, retired ones included, oldest first.
    pub async fn list(&self) -> Result<Vec<StoredKey>, KeyStoreError> {
        on_table!(&self.db, table => table.list())
    }

    /// The key `kid`, if stored.
    pub async fn find(&self, kid: &str) -> Result<Option<StoredKey>, KeyStoreError> {
        on_table!(&self.db, table => table.find(kid))
    }

    /// Stores a new standby key, created at `now`.
    pub async fn insert_standby(
        &self,
        kid: &str,
        algorithm: Algorithm,
        public_pem: &str,
        sealed: &SealedKey,
        now: OffsetDateTime,
    ) -> Result<(), KeyStoreError> {
        on_table!(&self.db, table => table.insert(kid, algorithm, public_pem, sealed, now))
    }

    /// Makes the standby key `kid` active at `now`, and the active key previous, in one
    /// transaction.
    pub async fn activate(
        &self,
        kid: &str,
        now: OffsetDateTime,
    ) -> Result<Activation, KeyStoreError> {
        on_table!(&self.db, table => table.activate(kid, now))
    }

    /// Retires `kid` at `now` and erases its private key, if it is still in `state` (what
    /// the caller read and decided on); whether it was.
    pub async fn retire(
        &self,
        kid: &str,
        state: KeyState,
        now: OffsetDateTime,
    ) -> Result<bool, KeyStoreError> {
        on_table!(&self.db, table => table.retire(kid, state, now))
    }
}

/// A row of the table, timestamps as the dialect stores them.
#[derive(sqlx::FromRow)]
struct KeyRow<T> {
    kid: String,
    algorithm: String,
    state: String,
    public_pem: String,
    private_nonce: Option<Vec<u8>>,
    private_sealed: Option<Vec<u8>>,
    created_at: T,
    activated_at: Option<T>,
    deactivated_at: Option<T>,
    retired_at: Option<T>,
}

impl<T> KeyRow<T> {
    fn into_key<D: Dialect<Time = T>>(self) -> Result<StoredKey, KeyStoreError> {
        let corrupt = |reason: String| KeyStoreError::Corrupt {
            kid: self.kid.clone(),
            reason,
        };
        let algorithm: Algorithm = self
            .algorithm
            .parse()
            .map_err(|err: jwt_allauth::keys::UnknownAlgorithm| corrupt(err.to_string()))?;
        let state: KeyState = self
            .state
            .parse()
            .map_err(|err: super::stored_key::UnknownKeyState| corrupt(err.to_string()))?;
        let sealed = match (self.private_nonce, self.private_sealed) {
            (Some(nonce), Some(ciphertext)) => Some(SealedKey { nonce, ciphertext }),
            _ => None,
        };
        Ok(StoredKey {
            kid: self.kid,
            algorithm,
            state,
            public_pem: self.public_pem,
            sealed,
            created_at: D::decode_time(self.created_at)?,
            activated_at: self.activated_at.map(D::decode_time).transpose()?,
            deactivated_at: self.deactivated_at.map(D::decode_time).transpose()?,
            retired_at: self.retired_at.map(D::decode_time).transpose()?,
        })
    }
}

/// The table on a pool of dialect `D`.
struct Table<'p, D: sqlx::Database>(&'p Pool<D>);

// The bounds say that the driver binds and reads the columns' types, as both sqlx
// drivers do; they are spelled out because Rust does not infer them from `Dialect`.
impl<D> Table<'_, D>
where
    D: Dialect,
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    for<'a> &'a str: ColumnIndex<D::Row> + Encode<'a, D> + Type<D>,
    for<'a> &'a [u8]: Encode<'a, D> + Type<D>,
    usize: ColumnIndex<D::Row>,
    String: for<'q> Encode<'q, D> + for<'r> Decode<'r, D> + Type<D>,
    Option<Vec<u8>>: for<'r> Decode<'r, D>,
    Vec<u8>: Type<D>,
    Option<D::Time>: for<'r> Decode<'r, D>,
{
    async fn list(&self) -> Result<Vec<StoredKey>, KeyStoreError> {
        let rows: Vec<KeyRow<D::Time>> = sqlx::query_as(table_sql::LIST)
            .fetch_all(self.0)
            .await
            .map_err(KeyStoreError::from_sqlx)?;
        rows.into_iter().map(KeyRow::into_key::<D>).collect()
    }

    async fn find(&self, kid: &str) -> Result<Option<StoredKey>, KeyStoreError> {
        let row: Option<KeyRow<D::Time>> = sqlx::query_as(table_sql::BY_KID)
            .bind(kid)
            .fetch_optional(self.0)
            .await
            .map_err(KeyStoreError::from_sqlx)?;
        row.map(KeyRow::into_key::<D>).transpose()
    }

    async fn insert(
        &self,
        kid: &str,
        algorithm: Algorithm,
        public_pem: &str,
        sealed: &SealedKey,
        now: OffsetDateTime,
    ) -> Result<(), KeyStoreError> {
        sqlx::query(table_sql::INSERT)
            .bind(kid)
            .bind(algorithm.as_str())
            .bind(public_pem)
            .bind(sealed.nonce.as_slice())
            .bind(sealed.ciphertext.as_slice())
            .bind(D::encode_time(now))
            .execute(self.0)
            .await
            .map_err(KeyStoreError::from_sqlx)?;
        Ok(())
    }

    async fn activate(&self, kid: &str, now: OffsetDateTime) -> Result<Activation, KeyStoreError> {
        let mut tx = self
            .0
            .begin_with(D::BEGIN_WRITE)
            .await
            .map_err(KeyStoreError::from_sqlx)?;
        // Demoted first: the unique index admits one active key at a time.
        let previous: Option<(String,)> = sqlx::query_as(table_sql::DEMOTE_ACTIVE)
            .bind(D::encode_time(now))
            .fetch_optional(&mut *tx)
            .await
            .map_err(KeyStoreError::from_sqlx)?;
        let promoted = sqlx::query(table_sql::PROMOTE)
            .bind(D::encode_time(now))
            .bind(kid)
            .execute(&mut *tx)
            .await
            .map_err(KeyStoreError::from_sqlx)?;
        if D::rows_affected(&promoted) != 1 {
            tx.rollback().await.map_err(KeyStoreError::from_sqlx)?;
            return Ok(Activation::NotStandby);
        }
        tx.commit().await.map_err(KeyStoreError::from_sqlx)?;
        Ok(Activation::Activated {
            previous: previous.map(|(kid,)| kid),
        })
    }

    async fn retire(
        &self,
        kid: &str,
        state: KeyState,
        now: OffsetDateTime,
    ) -> Result<bool, KeyStoreError> {
        let done = sqlx::query(table_sql::RETIRE)
            .bind(D::encode_time(now))
            .bind(kid)
            .bind(state.as_str())
            .execute(self.0)
            .await
            .map_err(KeyStoreError::from_sqlx)?;
        Ok(D::rows_affected(&done) == 1)
    }
}
