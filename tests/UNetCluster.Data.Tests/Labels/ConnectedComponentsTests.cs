using UNetCluster.Data.Labels;

namespace UNetCluster.Data.Tests.Labels;

public sealed class ConnectedComponentsTests
{
    [Fact]
    public void Label_DiagonalNeighbours_AreSeparateObjects()
    {
        // 4-connectivity: pixels that touch only at a corner are different objects.
        byte[] mask =
        [
            1, 0, 1,
            0, 1, 0,
        ];

        var labels = ConnectedComponents.Label(mask, 3, 2, out var count);

        Assert.Equal(3, count);
        Assert.Equal([1, 0, 2, 0, 3, 0], labels);
    }

    [Fact]
    public void Label_UShapedObject_OneLabelAndBackgroundZero()
    {
        // The U's arms first meet on the bottom row: still one object, found whatever the scan order.
        byte[] mask =
        [
            255, 0, 255,
            255, 0, 255,
            255, 255, 255,
        ];

        var labels = ConnectedComponents.Label(mask, 3, 3, out var count);

        Assert.Equal(1, count);
        Assert.Equal([1, 0, 1, 1, 0, 1, 1, 1, 1], labels);
    }

    [Fact]
    public void Label_ObjectsOnBothImageEdges_DoNotWrapAroundRows()
    {
        // The right end of row 0 and the left start of row 1 are adjacent in memory, not in the image.
        byte[] mask =
        [
            0, 0, 1,
            1, 0, 0,
        ];

        ConnectedComponents.Label(mask, 3, 2, out var count);

        Assert.Equal(2, count);
    }

    [Fact]
    public void Label_SizeDisagreesWithMask_Throws()
    {
        var mask = new byte[6];

        Assert.Throws<ArgumentException>(() => ConnectedComponents.Label(mask, 4, 2, out _));
    }
}
