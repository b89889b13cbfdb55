"""What is taught: courses, assignments and their versions, the unpacked
package cache, and the reference-solution check."""
