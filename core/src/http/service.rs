//! What the health document says about the service itself: the IETF draft's
//! top-level `version`, `releaseId`, `serviceId` and `description`.

use std::fmt;
use std::sync::Arc;

/// The service's identity in the `application/health+json` document: its
/// `serviceId`, public `version`, `releaseId` and `description`, each
/// written only when set.
///
/// The draft separates the public `version` of a service's interface (which
/// changes rarely) from its `releaseId` (each build). A library cannot read
/// the application's `CARGO_PKG_*` variables, so there is no default; the
/// [`service_info!`](crate::service_info) macro, expanded in the
/// application's crate, fills them from its `Cargo.toml`.
///
/// Set it with [`App::service_info`](crate::Lifecycle::service_info) or
/// [`Endpoints::service_info`](super::Endpoints::service_info).
///
/// # Examples
///
/// ```
/// use steward_core::http::ServiceInfo;
///
/// let info = ServiceInfo::new()
///     .service_id("billing")
///     .version("2")
///     .release_id("2.4.1")
///     .description("invoices and payments");
/// assert_eq!(info.service_id_str(), Some("billing"));
/// assert_eq!(info.release_id_str(), Some("2.4.1"));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ServiceInfo {
    service_id: Option<Arc<str>>,
    version: Option<Arc<str>>,
    release_id: Option<Arc<str>>,
    description: Option<Arc<str>>,
}

/// An empty text sets nothing: `CARGO_PKG_DESCRIPTION` is empty when the
/// manifest has no description.
fn text(value: &str) -> Option<Arc<str>> {
    (!value.is_empty()).then(|| Arc::from(value))
}

impl ServiceInfo {
    /// Nothing set: the document has none of the four fields.
    ///
    /// # Examples
    ///
    /// ```
    /// let info = steward_core::http::ServiceInfo::new();
    /// assert_eq!(info.version_str(), None);
    /// ```
    #[must_use]
    pub const fn new() -> Self {
        Self {
            service_id: None,
            version: None,
            release_id: None,
            description: None,
        }
    }

    /// What [`service_info!`](crate::service_info) expands to: `serviceId`
    /// the package name, `version` its major version (the public interface),
    /// `releaseId` its full version, `description` its description (left
    /// out when empty).
    ///
    /// # Examples
    ///
    /// ```
    /// let info = steward_core::http::ServiceInfo::from_package("billing", "2.4.1", "2", "");
    /// assert_eq!(info.version_str(), Some("2"));
    /// assert_eq!(info.description_str(), None);
    /// ```
    #[must_use]
    pub fn from_package(name: &str, version: &str, major: &str, description: &str) -> Self {
        Self {
            service_id: text(name),
            version: text(major),
            release_id: text(version),
            description: text(description),
        }
    }

    /// Sets `serviceId`, the unique identifier of the service. An empty
    /// text unsets it.
    ///
    /// # Examples
    ///
    /// See [`ServiceInfo`].
    #[must_use]
    pub fn service_id(mut self, id: &str) -> Self {
        self.service_id = text(id);
        self
    }

    /// Sets `version`, the public version of the service. An empty text
    /// unsets it.
    ///
    /// # Examples
    ///
    /// See [`ServiceInfo`].
    #[must_use]
    pub fn version(mut self, version: &str) -> Self {
        self.version = text(version);
        self
    }

    /// Sets `releaseId`, the version of this build. An empty text unsets it.
    ///
    /// # Examples
    ///
    /// See [`ServiceInfo`].
    #[must_use]
    pub fn release_id(mut self, release: &str) -> Self {
        self.release_id = text(release);
        self
    }

    /// Sets `description`, a human-friendly description of the service. An
    /// empty text unsets it.
    ///
    /// # Examples
    ///
    /// See [`ServiceInfo`].
    #[must_use]
    pub fn description(mut self, description: &str) -> Self {
        self.description = text(description);
        self
    }

    /// The `serviceId`, if set.
    ///
    /// # Examples
    ///
    /// See [`ServiceInfo`].
    #[must_use]
    pub fn service_id_str(&self) -> Option<&str> {
        self.service_id.as_deref()
    }

    /// The `version`, if set.
    ///
    /// # Examples
    ///
    /// See [`ServiceInfo::new`].
    #[must_use]
    pub fn version_str(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// The `releaseId`, if set.
    ///
    /// # Examples
    ///
    /// See [`ServiceInfo`].
    #[must_use]
    pub fn release_id_str(&self) -> Option<&str> {
        self.release_id.as_deref()
    }

    /// The `description`, if set.
    ///
    /// # Examples
    ///
    /// See [`ServiceInfo::from_package`].
    #[must_use]
    pub fn description_str(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The set fields as `(json key, value)`, in the draft's order.
    pub(super) fn fields(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("version", &self.version),
            ("releaseId", &self.release_id),
            ("serviceId", &self.service_id),
            ("description", &self.description),
        ]
        .into_iter()
        .filter_map(|(key, value)| value.as_deref().map(|v| (key, v)))
    }
}

impl fmt::Debug for ServiceInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ServiceInfo");
        for (key, value) in self.fields() {
            d.field(key, &value);
        }
        d.finish()
    }
}

/// The [`ServiceInfo`] of the crate that expands it, from its `Cargo.toml`:
/// `serviceId` = `CARGO_PKG_NAME`, `version` = `CARGO_PKG_VERSION_MAJOR`,
/// `releaseId` = `CARGO_PKG_VERSION`, `description` = `CARGO_PKG_DESCRIPTION`
/// (left out when empty).
///
/// A macro because only the application's own crate can read its package's
/// variables at compile time; a function in steward would read steward's.
///
/// # Examples
///
/// ```
/// let info = steward_core::service_info!();
/// // Expanded in this doctest, whose package is steward-core itself.
/// assert_eq!(info.service_id_str(), Some(env!("CARGO_PKG_NAME")));
/// assert_eq!(info.release_id_str(), Some(env!("CARGO_PKG_VERSION")));
/// ```
#[macro_export]
macro_rules! service_info {
    () => {
        $crate::http::ServiceInfo::from_package(
            ::core::env!("CARGO_PKG_NAME"),
            ::core::env!("CARGO_PKG_VERSION"),
            ::core::env!("CARGO_PKG_VERSION_MAJOR"),
            ::core::env!("CARGO_PKG_DESCRIPTION"),
        )
    };
}
