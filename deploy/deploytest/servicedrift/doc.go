// Package servicedrift holds the test that the README's config tables, the
// four services' config packages and docker-compose.yml name the same
// environment variables (see package drift for the rules).
package servicedrift
