// Package memtest gives tests memory that ends where an unreadable page begins, so that code
// reading past the end of its input faults instead of passing unnoticed.
package memtest
