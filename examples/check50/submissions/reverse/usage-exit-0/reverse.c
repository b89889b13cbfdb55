#include <stdio.h>
#include <stdlib.h>

typedef struct node
{
    long value;
    struct node *next;
} node;

int main(int argc, char *argv[])
{
    if (argc < 2)
    {
        printf("Usage: ./reverse number...\n");
        return 0;
    }
    node *list = NULL;
    for (int i = 1; i < argc; i++)
    {
        node *n = malloc(sizeof(node));
        if (n == NULL)
        {
            return 2;
        }
        n->value = strtol(argv[i], NULL, 10);
        n->next = list;
        list = n;
    }
    for (node *n = list; n != NULL; n = n->next)
    {
        printf("%ld%s", n->value, n->next != NULL ? " " : "\n");
    }
    while (list != NULL)
    {
        node *next = list->next;
        free(list);
        list = next;
    }
    return 0;
}
