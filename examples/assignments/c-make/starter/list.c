/* list.c: a singly linked list of integers. Implement every function of list.h. */
#include "list.h"

#include <stdlib.h>

struct node {
    long value;
    struct node *next;
};

struct list {
    struct node *head;
    struct node *tail;
    size_t length;
};

struct list *list_new(void)
{
    return calloc(1, sizeof(struct list));
}

void list_free(struct list *list)
{
    /* TODO: free every node, then the list itself */
    free(list);
}

int list_append(struct list *list, long value)
{
    (void)list;
    (void)value;
    return 0; /* TODO: add a node at the end; return -1 if malloc fails */
}

int list_prepend(struct list *list, long value)
{
    (void)list;
    (void)value;
    return 0; /* TODO: add a node at the front; return -1 if malloc fails */
}

int list_pop_front(struct list *list, long *out)
{
    (void)list;
    (void)out;
    return -1; /* TODO: remove the first node, store its value, free it */
}

size_t list_length(const struct list *list)
{
    return list->length;
}

long list_sum(const struct list *list)
{
    (void)list;
    return 0; /* TODO */
}

void list_reverse(struct list *list)
{
    (void)list; /* TODO */
}

void list_print(const struct list *list, FILE *out)
{
    (void)list;
    fputs("(empty)\n", out); /* TODO */
}
