/* list.h: a singly linked list of integers (given; do not change).
 *
 * The grader uses its own copy of this file and of the Makefile, so any
 * changes you make to them are ignored.
 */
#ifndef LIST_H
#define LIST_H

#include <stddef.h>
#include <stdio.h>

struct list; /* defined in list.c */

/* A new, empty list, or NULL when out of memory. */
struct list *list_new(void);

/* Frees the list and every node in it. list_free(NULL) does nothing. */
void list_free(struct list *list);

/* Add value at the end / at the front. Return 0, or -1 when out of memory. */
int list_append(struct list *list, long value);
int list_prepend(struct list *list, long value);

/* Remove the first value and store it in *out. Return 0, or -1 if the list is empty. */
int list_pop_front(struct list *list, long *out);

size_t list_length(const struct list *list);
long list_sum(const struct list *list);

/* Reverse the order of the values, in place (no allocation). */
void list_reverse(struct list *list);

/* Write the values separated by single spaces and end the line ("(empty)" if none). */
void list_print(const struct list *list, FILE *out);

#endif
